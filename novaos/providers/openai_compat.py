"""Any server speaking the OpenAI Chat Completions format (vLLM, Ollama, a proxy).

Configured by base URL (``OPENAI_COMPAT_BASE_URL``, key optional). Such
servers often omit usage on streams (or one of its counts); the shared decoder
then estimates what is missing, so token budgets still count every answer.
"""

from __future__ import annotations

from novaos.providers.openai import OpenAIProvider


class OpenAICompatProvider(OpenAIProvider):
    name = "openai_compat"
    _max_tokens_field = "max_tokens"  # what vLLM, Ollama and older proxies understand
    # Any server with the OpenAI format: an open set, each with its own words for a
    # normal end. Cut only on the reasons that say the answer is not whole: a tool
    # call (none is offered), vLLM's abort and error, OpenRouter's and Mistral's
    # error, DeepSeek's insufficient_system_resource, and what proxies pass through
    # from Anthropic (pause_turn, tool_use) and Gemini (MALFORMED_FUNCTION_CALL).
    # One that is neither in these nor in the whole finishes (OpenAIProvider) is
    # whole, with a warning: taking a server's normal end for a cut would fail (and
    # charge) every answer it gives.
    cut_finishes = frozenset(
        {
            "tool_calls",
            "function_call",
            "abort",
            "error",
            "insufficient_system_resource",
            "pause_turn",
            "tool_use",
            "malformed_function_call",
        }
    )
