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
