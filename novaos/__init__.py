"""NovaOS: an enforcement-first LLM gateway."""

__version__ = "0.1.0"
