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
