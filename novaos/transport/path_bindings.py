"""A transcoded call's path variables decide the fields they are bound to.

Envoy's gRPC-JSON transcoder fills a request message from the path, then the
query string, then the body, and a later value of a field wins: ``POST
/api/v1/health/circuits/mock:reset?provider=openai`` reset openai, ``GET
/api/v1/conversations/abc?conversation_id=other`` read ``other``, while the
access log (and any path-based rule in front) named ``mock`` and ``abc``. Its
``reject_binding_body_field_collisions`` compares only the first value of a
body key with the path, so a repeated key (``{"provider":"mock",
"provider":"openai"}``) got through as well.

The transcoder sends the path it was called with as ``x-envoy-original-path``;
the message the gateway gets holds what won. A path-bound field whose value is
not the path's is refused with INVALID_ARGUMENT naming it (HTTP 400), whatever
put it there.

The path is read as the transcoder's path matcher reads it: without its query,
and without trailing slashes (``/conversations/decoy/`` and ``decoy//`` bind
``decoy``). A transcoded call to a method with path variables whose path still
fits none of its templates (``decoy/.``, ``decoy/%2E``: the transcoder found
the method some other way than this check can follow) is refused too, naming
the path: letting it through let ``?conversation_id=victim`` win again.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pool

from novaos.errors import InvalidArgumentError

# Set by the transcoder on the calls it makes from HTTP/JSON requests.
ORIGINAL_PATH = "x-envoy-original-path"
_VARIABLE = re.compile(r"\{([^}=]+)(?:=[^}]*)?\}")

# (the template's regex, the fields its groups name, the template)
Binding = tuple[re.Pattern[str], tuple[str, ...], str]


def _templates(rule: http_pb2.HttpRule) -> Iterable[str]:
    for one in (rule, *rule.additional_bindings):
        kind = one.WhichOneof("pattern")
        if kind == "custom":
            yield one.custom.path
        elif kind is not None:
            yield getattr(one, kind)


def _compiled(template: str) -> Binding | None:
    fields = tuple(_VARIABLE.findall(template))
    if not fields:
        return None
    parts = _VARIABLE.split(template)[::2]  # the text between the variables
    pattern = "([^/]+)".join(re.escape(part) for part in parts)
    return re.compile(pattern), fields, template


@functools.cache
def bindings(method: str) -> tuple[Binding, ...]:
    """The path templates with variables that ``method`` ("/pkg.Service/Name") is
    bound to, as (regex, the fields its groups name, template)."""
    try:
        found = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", "."))
    except KeyError:
        return ()
    rule = found.GetOptions().Extensions[annotations_pb2.http]
    return tuple(b for t in _templates(rule) if (b := _compiled(t)) is not None)


def _value(message: Any, field: str) -> str:
    for name in field.split("."):
        message = getattr(message, name)
    return str(message)


def matched_path(original: str) -> str:
    """``original`` as the transcoder's path matcher matches it: the query cut off,
    then trailing slashes (the empty segments they make) dropped."""
    return original.partition("?")[0].rstrip("/") or "/"


def refuse_contradicted_path(
    method: str, metadata: Iterable[tuple[str, Any]], request: Any
) -> None:
    """Raises InvalidArgumentError when a transcoded call's request holds another
    value for a field its path names (from the query string, or the body), or
    when its path fits none of the method's templates with variables."""
    original = next((v for k, v in metadata if k == ORIGINAL_PATH), None)
    if not isinstance(original, str):
        return
    found = bindings(method)
    if not found:
        return
    path = matched_path(original)
    for regex, fields, _ in found:
        matched = regex.fullmatch(path)
        if matched is None:
            continue
        for field, raw in zip(fields, matched.groups(), strict=True):
            value = _value(request, field)
            if value not in (raw, unquote(raw)):
                raise InvalidArgumentError(
                    field,
                    f"the path names {unquote(raw)!r}; the query string or body must not "
                    f"name another ({value!r})",
                )
        return
    _, fields, template = found[0]
    sent = original.partition("?")[0]
    raise InvalidArgumentError(
        fields[0],
        f"the path {sent!r} does not name it as {template!r} does "
        "(no extra segments, no '.' or '..')",
    )
