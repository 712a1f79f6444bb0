"""Argument types of the ``novaos`` command: a value the call could not carry is a
usage error (exit 2, one line naming the option), not a traceback from protobuf."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime

from novaos.domain import audit_filter_refusal, subject_refusal

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def text(value: str) -> str:
    """Text that protobuf and gRPC metadata can carry: UTF-8.

    An argv that is not UTF-8 (``$'caf\\xe9'`` under a UTF-8 locale) reaches
    Python as lone surrogates, which no UTF-8 field or header takes."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"not UTF-8 text: {os.fsencode(value)!r}") from None
    return value


def token(value: str) -> str:
    """A bearer token as an ``authorization`` header can carry it: printable ASCII.

    Whitespace around it (the line break of a pasted or ``cat``-ed token, a CR from
    a Windows file) is stripped; anything else that no header value takes (``ö``,
    a space or a control character inside) is refused, naming its position but
    never echoing the token, which is a secret."""
    value = text(value).strip()
    for index, char in enumerate(value, 1):
        if not "!" <= char <= "~":
            raise argparse.ArgumentTypeError(
                f"a token is printable ASCII without spaces; character {index} is not"
            )
    return value


_HOST = re.compile(r"[A-Za-z0-9._-]+")
_PORT = re.compile(r"[0-9]{1,5}")


def target(value: str) -> str:
    """A gRPC server as ``host:port`` (an IPv6 address in brackets: ``[::1]:50051``).

    The port is 1 to 65535: gRPC takes a larger one modulo 65536 (98086 dials 32550),
    which would send the token to whatever listens there."""
    host, colon, port = text(value).rpartition(":")
    ipv6 = host.startswith("[") and host.endswith("]")
    if ipv6:
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            ipv6 = False
    if not colon or not (ipv6 or _HOST.fullmatch(host)):
        raise argparse.ArgumentTypeError(
            f"not host:port (an IPv6 address as [address]:port): {value!r}"
        )
    if not _PORT.fullmatch(port) or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"port {port!r} is not in 1..65535")
    return value


def name(value: str) -> str:
    """Text that says something: not empty, not only spaces."""
    if not text(value).strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def subject(value: str) -> str:
    """A token's subject the gateway accepts: not blank, not an anonymous caller's
    ``ip:`` address, refused with the gateway's own words."""
    if refusal := subject_refusal(name(value)):
        raise argparse.ArgumentTypeError(refusal)
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time(value: str) -> datetime:
    """An RFC 3339 / ISO 8601 time; without an offset it is taken as UTC.

    It must fall where the server takes a list bound, 1970-01-01 to 9999-12-31
    UTC (no record is older; a protobuf Timestamp holds from 0001, but a 1960
    bound was sent and refused by the server, exit 1, not a usage error)."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    outside = argparse.ArgumentTypeError(f"{value!r} is outside 1970-01-01 to 9999-12-31 UTC")
    try:
        when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise outside from None
    if when < _EPOCH:
        raise outside
    return when


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An integer from ``low`` to ``high`` (the range of the proto field it fills)."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is not in {low}..{high}")
        return number

    return parse


def audit_filter(name: str) -> Callable[[str], str]:
    """An audit list filter (``outcome``, ``stance``, ``gate_decision``) that can
    match a record, as the server checks it; empty is no filter."""

    def parse(value: str) -> str:
        if refusal := audit_filter_refusal(name, text(value)):
            raise argparse.ArgumentTypeError(refusal)
        return value

    return parse
