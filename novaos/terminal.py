"""Output of the command-line clients (``novaos chat``, ``novaos audit``)."""

from __future__ import annotations

import io
import os
import re
import sys
from typing import TextIO

# Bidi embeddings, overrides and isolates: a terminal or viewer that lays text out by
# direction would show "\u202eexe.live" as "evil.exe". Marks (LRM, RLM) stay.
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"  # a regex character-class range

# What a terminal would act on instead of showing: escape sequences (CSI such as
# "\x1b[2J", OSC such as a title "\x1b]0;t\x07", a hyperlink or a clipboard write,
# DCS/APC/PM/SOS strings, two-byte escapes), their 8-bit C1 forms, and every other
# C0/C1 control character except the line break and the tab. A string without its
# end (or split between two deltas) loses its control characters all the same:
# what is left of it is printable text, shown rather than swallowed.
_CONTROLS = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI
    r"|(?:\x1b[]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"  # strings
    r"|\x1b[ -/]*[0-~]"  # two-byte escapes (ESC 7, ESC c, ESC ( B)
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # whatever control is left, \n and \t kept
    rf"|[{BIDI_CONTROLS}]"
)
# Inside a JSON line (a log line, an audit record) what JSON leaves raw and a reader
# would act on: DEL and the C1 controls (U+009B is a terminal's CSI), the line and
# paragraph separators (a viewer's or str.splitlines's line break), the bidi
# controls, and lone surrogates, which no UTF-8 stream can write. JSON escapes the
# C0 controls itself.
_RAW_IN_JSON = re.compile(f"[\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}\ud800-\udfff]")


def safe(text: str) -> str:
    """``text`` from the network (a model's answer, a server's message) with nothing
    in it a terminal would obey: no escape sequences, no control characters but
    ``\\n`` and ``\\t``, no bidi overrides. Every printable character, RTL and
    emoji included, stays."""
    return _CONTROLS.sub("", text)


def escape_in_json(line: str) -> str:
    """``line`` (JSON text) with those characters as ``\\uXXXX`` escapes: every one
    of them is inside a JSON string, so the line reads back the same."""
    return _RAW_IN_JSON.sub(_escape, line)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


class OutputError(Exception):
    """stdout or stderr refused what a command wrote (a full disk, a closed stream)."""


def prepare() -> None:
    """Make stdout and stderr fit for a client command, before it writes anything.

    An encoding without a character (``PYTHONIOENCODING=latin-1``, an ASCII
    locale) shows ``?`` instead of ending the command with UnicodeEncodeError.
    A closed stderr (``2>&-``) takes notes as ``2>/dev/null`` would; a closed
    stdout (``>&-``) leaves the command nothing to do: OutputError."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="replace")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    if sys.stdout is None:
        raise OutputError("stdout is closed")


def write(stream: TextIO, text: str) -> bool:
    """Write and flush ``text``; False once the reader went away (``| head``).

    Any other failure to write (ENOSPC: ``>/dev/full``, EIO) is OutputError."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        _discard(stream)
        return False
    except OSError as exc:
        _discard(stream)
        name = "stderr" if stream is sys.stderr else "stdout"
        raise OutputError(f"cannot write to {name}: {exc.strerror or exc}") from None
    return True


def report(line: str) -> None:
    """``line`` on stderr if it takes it: the last word of a command whose output failed."""
    try:
        sys.stderr.write(f"{line}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # full, closed, or None
        pass


def _discard(stream: TextIO) -> None:
    # Python would flush what is still buffered again at exit and complain (an
    # "Exception ignored" and exit 120): point the stream at nothing.
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, stream.fileno())
    os.close(null)


def dim(stream: TextIO, text: str) -> str:
    """``text`` dimmed for a person at a terminal; as is for a file, a pipe or NO_COLOR.

    NO_COLOR follows no-color.org (set and not empty: no colour). It is read here,
    not in the gateway's settings: a convention of terminals, not a setting of the
    gateway, and these clients never load the gateway's configuration."""
    if os.environ.get("NO_COLOR") or not stream.isatty():
        return text
    return f"\x1b[2m{text}\x1b[0m"
