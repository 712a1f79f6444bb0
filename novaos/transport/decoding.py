"""Request bytes that do not parse: a client error, not a servicer crash.

grpc.aio calls the request deserializer outside any handler; when it raises
(protobuf's ``DecodeError``: bad UTF-8 in a string field, truncated bytes)
grpc logs a traceback at error level and answers ``UNKNOWN``, for any method
and before authentication. A tolerant deserializer returns an ``Undecodable``
marker instead, which the interceptor's handler wrapper turns into
``INVALID_ARGUMENT`` naming the field where it can be found.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError

from novaos.errors import InvalidArgumentError

_log = logging.getLogger("novaos.transport")

Deserializer = Callable[[bytes], Any]


class Undecodable:
    """Stands in for a request whose bytes did not parse."""

    __slots__ = ("error",)

    def __init__(self, error: InvalidArgumentError) -> None:
        self.error = error


def tolerant(method: str, deserializer: Deserializer | None) -> Deserializer | None:
    """``deserializer`` returning an ``Undecodable`` where it would raise DecodeError."""
    if deserializer is None:
        return None
    message_class = getattr(deserializer, "__self__", None)  # Foo.FromString's class
    descriptor: Descriptor | None = getattr(message_class, "DESCRIPTOR", None)
    parse = deserializer  # narrowed for the closure

    def deserialize(raw: bytes) -> Any:
        try:
            return parse(raw)
        except DecodeError:
            error = describe(descriptor, raw)
            # One debug line, no traceback: anyone can send these, before
            # authentication; the request metrics count them at any log level.
            _log.debug("undecodable request to %s: %s", method, error.message)
            return Undecodable(error)

    return deserialize


def describe(descriptor: Descriptor | None, raw: bytes) -> InvalidArgumentError:
    """The error for bytes that did not parse as ``descriptor``'s message."""
    name = descriptor.full_name if descriptor is not None else "request message"
    field = _bad_string(descriptor, raw, "") if descriptor is not None else None
    if field is not None:
        return InvalidArgumentError(field, "is not valid UTF-8")
    return InvalidArgumentError("request", f"not a valid {name} (malformed protobuf)")


def _varint(raw: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = raw[pos]  # IndexError past the end: truncated
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


_FIXED = {1: 8, 5: 4}  # wire type -> width


def _bad_string(descriptor: Descriptor, raw: bytes, prefix: str) -> str | None:
    """The path of the first string field (nested ones too) whose bytes are not
    UTF-8, walking the wire format; None when there is none or the bytes end early."""
    pos = 0
    try:
        while pos < len(raw):
            key, pos = _varint(raw, pos)
            number, wire = key >> 3, key & 7
            if wire == 0:
                pos = _varint(raw, pos)[1]
                continue
            if wire in _FIXED:
                pos += _FIXED[wire]
                continue
            if wire != 2:
                return None  # groups: nothing here uses them
            size, pos = _varint(raw, pos)
            chunk, pos = raw[pos : pos + size], pos + size
            if pos > len(raw):
                return None
            found = _bad_in_chunk(descriptor.fields_by_number.get(number), chunk, prefix)
            if found is not None:
                return found
    except IndexError:
        return None
    return None


def _bad_in_chunk(field: FieldDescriptor | None, chunk: bytes, prefix: str) -> str | None:
    if field is None:
        return None
    path = prefix + field.name
    if field.type == FieldDescriptor.TYPE_STRING:
        try:
            chunk.decode("utf-8")  # strict: lone surrogates fail too, as in protobuf
        except UnicodeDecodeError:
            return path
        return None
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
        return _bad_string(field.message_type, chunk, path + ".")
    return None


def refuse_undecodable(request: object) -> None:
    """Raise the error of a request whose bytes did not parse (inside the
    interceptor's call frame, so it is mapped and counted like any other)."""
    if type(request) is Undecodable:
        raise request.error
