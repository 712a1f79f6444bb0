"""Output of the command-line clients (``novaos chat``, ``novaos audit``)."""

from __future__ import annotations

import os
from typing import TextIO


def write(stream: TextIO, text: str) -> bool:
    """Write and flush ``text``; False once the reader went away (``| head``)."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        # Python would flush again at exit and complain: point the stream at nothing.
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
        return False
    return True


def dim(stream: TextIO, text: str) -> str:
    """``text`` dimmed for a person at a terminal; as is for a file, a pipe or NO_COLOR.

    NO_COLOR follows no-color.org (set and not empty: no colour). It is read here,
    not in the gateway's settings: a convention of terminals, not a setting of the
    gateway, and these clients never load the gateway's configuration."""
    if os.environ.get("NO_COLOR") or not stream.isatty():
        return text
    return f"\x1b[2m{text}\x1b[0m"
