"""The HTTP bindings (``google.api.http``) of the transcoded services, read from the
descriptor set Envoy loads: which methods each path answers, so that a known path
called with another method gets 405 and ``Allow`` instead of the catch-all 404."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

_VARIABLE = re.compile(r"\{[^}]*\}")


def _bindings(rule: http_pb2.HttpRule) -> Iterable[tuple[str, str]]:
    for one in (rule, *rule.additional_bindings):
        kind = one.WhichOneof("pattern")
        if kind == "custom":
            yield one.custom.kind.upper(), one.custom.path
        elif kind is not None:
            yield kind.upper(), getattr(one, kind)


def path_regex(template: str) -> str:
    """An RE2 pattern for a path template; a ``{variable}`` is one path segment."""
    parts = _VARIABLE.split(template)
    return "[^/]+".join(re.escape(p) for p in parts)


def allowed_methods(descriptor: Path, services: Iterable[str]) -> dict[str, list[str]]:
    """Path regex -> the HTTP methods bound to it, for the named services."""
    # Parsed after annotations_pb2 is imported, so the http option is read as such.
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes()).file
    wanted = set(services)
    methods: dict[str, set[str]] = {}
    for file in files:
        for service in file.service:
            if f"{file.package}.{service.name}" not in wanted:
                continue
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                for verb, template in _bindings(rule):
                    methods.setdefault(path_regex(template), set()).add(verb)
    return {path: sorted(verbs) for path, verbs in sorted(methods.items())}
