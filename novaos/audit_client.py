"""The terminal client behind ``novaos audit list`` / ``verify`` / ``watch`` (AuditService stubs).

``list`` pages through ``ListAuditEvents`` and prints each record as one JSON
object per line, in the form the file sink stores it (the canonical record plus
its ``hash``), so ``jq`` and ``grep`` treat both alike. ``verify`` prints the
``VerifyAuditChain`` result as one JSON object and exits 4 when the chain is
broken. ``watch`` prints each new record in ``list``'s form as it is written and
skips the stream's keepalives. Any RPC error prints its status code and message
and exits 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import grpc
from google.protobuf import timestamp_pb2

from generated.novaos.v1 import audit_pb2, audit_pb2_grpc
from novaos import terminal

EXIT_OK, EXIT_RPC, EXIT_BROKEN = 0, 1, 4

_HINTS = {
    grpc.StatusCode.PERMISSION_DENIED: (
        "the audit log needs a token with the admin role (novaos token --sub <you> --admin)"
    ),
    grpc.StatusCode.UNAUTHENTICATED: "pass a token with the admin role: --token <jwt>",
}


@dataclass(frozen=True)
class ListFilters:
    """ListAuditEventsRequest's filters; empty or ``None`` means any."""

    user: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    outcome: str = ""
    stance: str = ""
    gate_decision: str = ""
    page_size: int = 0
    after_seq: int = 0


def _stub(channel: grpc.aio.Channel) -> audit_pb2_grpc.AuditServiceAsyncStub:
    # The async stub type exists only in the .pyi: at run time it is the one stub class.
    return cast("audit_pb2_grpc.AuditServiceAsyncStub", audit_pb2_grpc.AuditServiceStub(channel))


def _metadata(token: str) -> tuple[tuple[str, str | bytes], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


def _timestamp(when: datetime | None) -> timestamp_pb2.Timestamp | None:
    if when is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    return stamp


def _request(filters: ListFilters, page_token: str) -> audit_pb2.ListAuditEventsRequest:
    return audit_pb2.ListAuditEventsRequest(
        user=filters.user,
        start_time=_timestamp(filters.start_time),
        end_time=_timestamp(filters.end_time),
        outcome=filters.outcome,
        stance=filters.stance,
        gate_decision=filters.gate_decision,
        page_size=filters.page_size,
        page_token=page_token,
        after_seq=filters.after_seq,
    )


def _line(event: audit_pb2.AuditEvent) -> str:
    record = json.loads(event.canonical_json)
    record["hash"] = event.hash
    line = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # JSON escapes ESC and the other C0 controls, not DEL, the C1 ones (8-bit CSI
    # "\x9b"), U+2028 or the bidi overrides, which a terminal may act on: escaped
    # as the log's lines are, the line still reads back as the stored record.
    return terminal.escape_in_json(line)


def _rpc_error(err: grpc.aio.AioRpcError) -> int:
    terminal.write(sys.stderr, terminal.safe(f"error: {err.code().name}: {err.details()}") + "\n")
    hint = _HINTS.get(err.code())
    if hint:
        terminal.write(sys.stderr, f"hint: {hint}\n")
    return EXIT_RPC


def _write(lines: Sequence[str]) -> bool:
    """Print ``lines``; False once the reader went away (``| head``)."""
    return terminal.write(sys.stdout, "".join(f"{line}\n" for line in lines))


async def run_audit_list(target: str, token: str, filters: ListFilters) -> int:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = _stub(channel)
        page_token = ""
        try:
            while True:
                page = await stub.ListAuditEvents(
                    _request(filters, page_token), metadata=_metadata(token)
                )
                if not _write([_line(event) for event in page.events]):
                    return EXIT_OK
                page_token = page.next_page_token
                if not page_token:
                    return EXIT_OK
        except grpc.aio.AioRpcError as err:
            return _rpc_error(err)


async def run_audit_verify(target: str, token: str, from_seq: int, to_seq: int) -> int:
    request = audit_pb2.VerifyAuditChainRequest(from_seq=from_seq, to_seq=to_seq)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = _stub(channel)
        try:
            result = await stub.VerifyAuditChain(request, metadata=_metadata(token))
        except grpc.aio.AioRpcError as err:
            return _rpc_error(err)
    fields = ("ok", "checked", "first_bad_seq", "problem", "unkeyed")
    _write([json.dumps({name: getattr(result, name) for name in fields})])
    if not result.ok:
        where = f" at seq {result.first_bad_seq}" if result.first_bad_seq else ""
        problem = terminal.safe(f"audit chain broken{where}: {result.problem}")
        terminal.write(sys.stderr, f"{problem}\n")
        return EXIT_BROKEN
    return EXIT_OK


async def run_audit_watch(target: str, token: str) -> int:
    """Until the server ends the watch (shutdown: exit 0), an error, or ``| head``."""
    request = audit_pb2.WatchAuditEventsRequest()
    async with grpc.aio.insecure_channel(target) as channel:
        call = _stub(channel).WatchAuditEvents(request, metadata=_metadata(token))
        try:
            if await call.initial_metadata():  # none: refused (the error follows)
                terminal.write(sys.stderr, "watching for new audit records (Ctrl-C stops)\n")
            async for message in call:
                # A keepalive only says the watch is alive, and a final error comes
                # again as the status: print neither.
                if message.HasField("event") and not _write([_line(message.event)]):
                    return EXIT_OK
        except grpc.aio.AioRpcError as err:
            return _rpc_error(err)
    return EXIT_OK
