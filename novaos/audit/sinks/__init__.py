"""Audit sinks: memory (bounded ring), file (JSON Lines) and PostgreSQL."""
