"""The gate pipeline: gates, orchestrator, ack tokens, streaming output checks."""
