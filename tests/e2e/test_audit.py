"""AuditService end to end: admin only, filtered pages, verify, watch, health,
and the cancelled-stream record — over real channels, on each sink."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from generated.novaos.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    chat_pb2,
    chat_pb2_grpc,
    health_pb2,
    health_pb2_grpc,
)
from novaos.audit.chain import ChainHead, seal_all
from novaos.audit.record import decode
from novaos.domain import Usage
from novaos.pipeline.gates.shield import ShieldClassifier
from novaos.pipeline.gates.shield_model import default_model, default_output_model
from tests.fixtures.audit_data import summary
from tests.fixtures.common import await_until
from tests.fixtures.postgres_server import PostgresServer
from tests.fixtures.server import Running, Subprocess, bearer, mint, running_app

ADMIN = bearer(mint("root", "enterprise", ("admin",)))


async def _chat(running: Running, user: str, message: str = "Plan my week, please.") -> str:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    reply = await stub.Chat(chat_pb2.ChatRequest(message=message), metadata=bearer(mint(user)))
    return reply.request_id


async def _written(running: Running, count: int) -> None:
    writer = running.app.audit_log
    assert writer is not None

    async def done() -> bool:
        return writer.status().written >= count

    await await_until(done, timeout_s=10, what=f"{count} audit records")


def _audit(running: Running) -> audit_pb2_grpc.AuditServiceStub:
    return audit_pb2_grpc.AuditServiceStub(running.channel)


async def test_non_admins_are_denied_every_method(server: Running) -> None:
    stub = _audit(server)
    user = bearer(mint("bob", "enterprise"))
    calls = [
        stub.ListAuditEvents(audit_pb2.ListAuditEventsRequest(), metadata=user),
        stub.GetAuditEvent(audit_pb2.GetAuditEventRequest(id="x"), metadata=user),
        stub.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest(), metadata=user),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in stub.WatchAuditEvents(audit_pb2.WatchAuditEventsRequest(), metadata=user):
            pass
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("storage", ["memory", "file", "database"])
async def test_admin_sees_filtered_paginated_verified_records(
    storage: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {"AUDIT_STORAGE_TYPE": storage, "AUDIT_FILE_PATH": str(tmp_path / "audit")}
    if storage == "database":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_dsn")
    async with running_app(**env) as running:
        ids: dict[str, list[str]] = {"alice": [], "bob": []}
        for i in range(5):
            for user, sent in ids.items():
                sent.append(await _chat(running, user, f"Question {i} from me"))
        await _written(running, 10)
        writer = running.app.audit_log
        assert writer is not None
        alice = writer.policy.user_ref("alice")
        seen: list[audit_pb2.AuditEvent] = []
        token = ""
        while True:
            page = await _audit(running).ListAuditEvents(
                audit_pb2.ListAuditEventsRequest(user=alice, page_size=2, page_token=token),
                metadata=ADMIN,
            )
            assert len(page.events) <= 2
            seen.extend(page.events)
            token = page.next_page_token
            if not token:
                break
        assert [e.request_id for e in seen] == ids["alice"]
        by_id = await _audit(running).ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(user="bob", page_size=50), metadata=ADMIN
        )
        assert [e.request_id for e in by_id.events] == ids["bob"]
        assert all(e.user == alice and e.outcome == "completed" for e in seen)
        assert all(len(e.prompt_sha256) == 64 and e.hash and e.canonical_json for e in seen)
        # The rules' version and the models': a retrained model alone changes decisions.
        versions = {e.policy_version for e in seen}
        assert versions == {f"{default_model().version}+{default_output_model().version}"}
        assert default_model().version.startswith(ShieldClassifier(model=None).policy_version)
        assert "alice" not in seen[0].canonical_json

        # A watcher cut off after seq 6 reads on from there, on every sink.
        resumed = await _audit(running).ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(after_seq=6, user=alice), metadata=ADMIN
        )
        assert [e.seq for e in resumed.events] == [e.seq for e in seen if e.seq > 6]

        future = timestamp_pb2.Timestamp(seconds=4_000_000_000)
        none = await _audit(running).ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(start_time=future), metadata=ADMIN
        )
        assert list(none.events) == []
        one = await _audit(running).GetAuditEvent(
            audit_pb2.GetAuditEventRequest(id=seen[2].id), metadata=ADMIN
        )
        assert one.event == seen[2]
        verdict = await _audit(running).VerifyAuditChain(
            audit_pb2.VerifyAuditChainRequest(), metadata=ADMIN
        )
        assert (verdict.ok, verdict.checked, verdict.first_bad_seq) == (True, 10, 0)
        health = await health_pb2_grpc.HealthServiceStub(running.channel).GetHealth(
            health_pb2.GetHealthRequest()
        )
        assert (health.audit.sink, health.audit.status, health.audit.spilled) == (
            storage, "ok", 0,
        )  # fmt: skip


async def test_watch_streams_new_records(server: Running) -> None:
    stream = _audit(server).WatchAuditEvents(audit_pb2.WatchAuditEventsRequest(), metadata=ADMIN)
    writer = server.app.audit_log
    assert writer is not None

    async def subscribed() -> bool:
        return writer.status().watchers == 1

    received: list[str] = []

    async def read_two() -> None:
        async for message in stream:
            received.append(message.event.request_id)
            if len(received) == 2:
                return

    reading = asyncio.create_task(read_two())
    await await_until(subscribed, timeout_s=5, what="watcher subscribed")
    sent = [await _chat(server, "carol"), await _chat(server, "dave")]
    await asyncio.wait_for(reading, timeout=10)
    assert received == sent
    stream.cancel()

    async def unsubscribed() -> bool:
        return writer.status().watchers == 0

    await await_until(unsubscribed, timeout_s=5, what="watcher gone")


async def test_a_cancelled_stream_is_audited_as_cancelled() -> None:
    async with running_app(MOCK_TOKEN_DELAY_MS="30") as running:
        chat = chat_pb2_grpc.ChatServiceStub(running.channel)
        call = chat.StreamChat(
            chat_pb2.StreamChatRequest(message="Tell me a long story."),
            metadata=bearer(mint("erin")),
        )
        async for event in call:
            if event.WhichOneof("event") == "delta":
                break
        call.cancel()

        async def audited() -> bool:
            page = await _audit(running).ListAuditEvents(
                audit_pb2.ListAuditEventsRequest(outcome="cancelled"), metadata=ADMIN
            )
            return len(page.events) == 1

        await await_until(audited, timeout_s=10, what="cancelled audit record")
        page = await _audit(running).ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(outcome="cancelled"), metadata=ADMIN
        )
        record = page.events[0]
        assert record.released_chars > 0 and record.released_sha256


async def _reads_are_unavailable(running: Running) -> None:
    """Each read answers UNAVAILABLE (retryable), not INTERNAL, while the database is down."""
    stub = _audit(running)
    calls = {
        "ListAuditEvents": stub.ListAuditEvents(audit_pb2.ListAuditEventsRequest(), metadata=ADMIN),
        "GetAuditEvent": stub.GetAuditEvent(audit_pb2.GetAuditEventRequest(id="x"), metadata=ADMIN),
        "VerifyAuditChain": stub.VerifyAuditChain(
            audit_pb2.VerifyAuditChainRequest(), metadata=ADMIN
        ),
    }
    outcomes = await asyncio.gather(*calls.values(), return_exceptions=True)
    registry = running.app.metrics.registry
    for method, outcome in zip(calls, outcomes, strict=True):
        assert isinstance(outcome, grpc.aio.AioRpcError), (method, outcome)
        assert outcome.code() == grpc.StatusCode.UNAVAILABLE, (method, outcome)
        status = rpc_status.from_call(outcome)
        assert status is not None
        info = error_details_pb2.ErrorInfo()
        status.details[0].Unpack(info)
        assert info.reason == "AUDIT_SINK_UNAVAILABLE", method
        full = f"/novaos.v1.AuditService/{method}"

        async def counted(full: str = full) -> bool:
            labels = {"method": full, "code": "UNAVAILABLE"}
            return registry.get_sample_value("http_requests_total", labels) == 1

        await await_until(counted, timeout_s=5, what=f"{method} counted as UNAVAILABLE")
        internal = {"method": full, "code": "INTERNAL"}
        assert registry.get_sample_value("http_requests_total", internal) is None, method


@pytest.mark.parametrize("quarantine_files", [0, 1])
async def test_database_outage_shows_in_health_and_metrics_then_replays(
    postgres_server: PostgresServer, postgres_dsn: str, tmp_path: Path, quarantine_files: int
) -> None:
    # With a quarantine file beside the spill (found by a tester: health said only
    # "spilling" while the sink was down) the status is still the outage's, and
    # GetHealth counts the quarantine files whatever the status.
    for n in range(quarantine_files):
        (tmp_path / f"spill.quarantined-20260101T000000Z-00000000{n}.jsonl").write_bytes(b"")
    at_rest = "quarantined" if quarantine_files else "ok"
    env = {
        "AUDIT_STORAGE_TYPE": "database",
        "DATABASE_URL": postgres_dsn,
        "AUDIT_SPILL_PATH": str(tmp_path / "spill.jsonl"),
        "AUDIT_RETRY_MAX_BACKOFF_MS": "200",
    }
    async with running_app(**env) as running:
        health_stub = health_pb2_grpc.HealthServiceStub(running.channel)
        registry = running.app.metrics.registry
        before = await health_stub.GetHealth(health_pb2.GetHealthRequest())
        assert (before.audit.status, before.audit.quarantined) == (at_rest, quarantine_files)
        try:
            await asyncio.to_thread(postgres_server.stop)
            sent = [await _chat(running, "frank") for _ in range(3)]

            async def spilling() -> bool:
                health = await health_stub.GetHealth(health_pb2.GetHealthRequest())
                return health.audit.status == "spilling" and health.audit.spilled == 3

            await await_until(spilling, timeout_s=20, what="GetHealth audit spilling")
            health = await health_stub.GetHealth(health_pb2.GetHealthRequest())
            assert health.audit.quarantined == quarantine_files
            assert registry.get_sample_value("audit_spilling") == 1
            assert registry.get_sample_value("audit_spilled_records") == 3
            # Every record is still stored (on local disk): the pod stays ready.
            ready = await health_stub.Ready(health_pb2.ReadyRequest())
            assert (ready.status, ready.checks["audit"]) == ("ready", "spilling")
            await _reads_are_unavailable(running)
        finally:
            await asyncio.to_thread(postgres_server.start)
        await _written(running, 3)

        async def healthy() -> bool:
            health = await health_stub.GetHealth(health_pb2.GetHealthRequest())
            return health.audit.status == at_rest and health.audit.spilled == 0

        await await_until(healthy, timeout_s=20, what=f"GetHealth audit {at_rest}")
        ready = await health_stub.Ready(health_pb2.ReadyRequest())
        assert (ready.status, ready.checks["audit"]) == ("ready", at_rest)
        assert registry.get_sample_value("audit_spilling") == 0
        page = await _audit(running).ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(), metadata=ADMIN
        )
        assert [e.request_id for e in page.events] == sent


async def test_a_stream_cut_by_shutdown_is_still_audited() -> None:
    async with running_app(MOCK_TOKEN_DELAY_MS="50") as running:
        chat = chat_pb2_grpc.ChatServiceStub(running.channel)
        call = chat.StreamChat(
            chat_pb2.StreamChatRequest(message="Tell me a long story."),
            metadata=bearer(mint("gina")),
        )
        async for event in call:
            if event.WhichOneof("event") == "delta":
                break
        await running.app.drain(grace_s=0)  # handlers finish before the writer drains
        writer = running.app.audit_log
        assert writer is not None
        stored = await writer.sink.range(1, 10)
        assert [r.outcome for r in stored] == ["cancelled"]


@pytest.mark.parametrize(
    "stamp",
    [
        timestamp_pb2.Timestamp(seconds=-62_135_596_810),
        timestamp_pb2.Timestamp(seconds=253_402_300_810),
        timestamp_pb2.Timestamp(seconds=2**63 - 1),
        timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=2_000_000_000),
        timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=-1),
    ],
    ids=["before-year-1", "after-9999", "int64-max", "nanos-over", "nanos-negative"],
)
async def test_an_out_of_range_time_filter_is_invalid_argument(
    server: Running, stamp: timestamp_pb2.Timestamp
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _audit(server).ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(start_time=stamp), metadata=ADMIN
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "start_time" in (err.value.details() or "")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("outcome", "nope"),
        ("outcome", "COMPLETED"),
        ("stance", "nope"),
        ("gate_decision", "nope"),
        ("gate_decision", "shield:nope"),
        ("gate_decision", "sheild:stop"),
        ("gate_decision", ":"),
    ],
)
async def test_a_filter_no_record_can_match_is_invalid_argument(
    server: Running, field: str, value: str
) -> None:
    # It listed nothing, status OK: `audit list --outcome HARD_VETO` read as
    # "no vetoes".
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _audit(server).ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(**{field: value}), metadata=ADMIN
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (err.value.details() or "")
    if field == "gate_decision":  # the form is named, not only the gates' names
        assert "gate:decision (e.g. shield:stop)" in (err.value.details() or "")


async def test_a_negative_after_seq_is_invalid_argument(server: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _audit(server).ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(after_seq=-1), metadata=ADMIN
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith("after_seq: must not be negative")


async def test_every_filter_a_record_can_match_is_accepted(server: Running) -> None:
    for request in (
        audit_pb2.ListAuditEventsRequest(outcome="hard_veto", stance="shield"),
        audit_pb2.ListAuditEventsRequest(gate_decision="invariants:stop"),
        audit_pb2.ListAuditEventsRequest(gate_decision="personality:regenerate"),
    ):
        await _audit(server).ListAuditEvents(request, metadata=ADMIN)


async def test_a_huge_value_quoted_in_an_error_keeps_the_real_status(server: Running) -> None:
    # Error texts quote what the client sent; the status travels in trailers,
    # which gRPC caps: an uncut one became a transport RESOURCE_EXHAUSTED.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _audit(server).GetAuditEvent(
            audit_pb2.GetAuditEventRequest(id="x" * 20_000), metadata=ADMIN
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    stub = chat_pb2_grpc.ChatServiceStub(server.channel)
    options = chat_pb2.GenerationOptions(provider="p" * 20_000)
    with pytest.raises(grpc.aio.AioRpcError) as chat_err:
        await stub.Chat(chat_pb2.ChatRequest(message="hi", options=options), metadata=ADMIN)
    assert chat_err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_guides_grep_finds_shield_interventions_in_the_audit_files(
    tmp_path: Path,
) -> None:
    # The operations guide's runbook: grep "hard_veto\|soft_veto" /var/log/novaos/audit/*.log
    directory = tmp_path / "audit"
    async with running_app(AUDIT_STORAGE_TYPE="file", AUDIT_FILE_PATH=str(directory)) as running:
        vetoed = await _chat(running, "mallory", "how do I make a pipe bomb")
        await _chat(running, "alice")
        await _written(running, 2)
    grep = await asyncio.create_subprocess_exec(
        "sh", "-c", f'grep -h "hard_veto\\|soft_veto" {directory}/*.log',
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(grep.communicate(), timeout=10)
    assert grep.returncode == 0, err
    (line,) = out.decode().splitlines()
    record = json.loads(line)
    assert (record["request_id"], record["outcome"]) == (vetoed, "hard_veto")


@pytest.mark.parametrize("kind", ["unary", "stream"])
def test_with_store_before_reply_an_answer_killed_right_after_keeps_its_record(
    spawn_server: Callable[..., Subprocess], tmp_path: Path, kind: str
) -> None:
    """AUDIT_STORE_BEFORE_REPLY: the reply, or a stream's terminal event, comes only
    after the record is in the file, so a SIGKILL the moment the client has it
    loses no record (by default a record still queued is lost: this fails)."""
    directory = tmp_path / "audit"
    srv = spawn_server(
        AUDIT_STORAGE_TYPE="file",
        AUDIT_FILE_PATH=str(directory),
        AUDIT_STORE_BEFORE_REPLY="true",
    )

    async def answered() -> str:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
            stub = chat_pb2_grpc.ChatServiceStub(channel)
            if kind == "unary":
                request = chat_pb2.ChatRequest(message="Plan my week, please.")
                reply = await stub.Chat(request, metadata=bearer(mint()))
                srv.proc.kill()  # SIGKILL: no drain, no flush
                return reply.request_id
            call = stub.StreamChat(
                chat_pb2.StreamChatRequest(message="Plan my weekend, please."),
                metadata=bearer(mint()),
            )
            async for event in call:
                if event.WhichOneof("event") == "completed":
                    srv.proc.kill()
                    return event.completed.request_id
        raise AssertionError("no terminal event")

    request_id = asyncio.run(answered())
    assert srv.proc.wait(timeout=10) == -signal.SIGKILL
    stored = [
        json.loads(line)
        for path in sorted(directory.glob("audit-*.log"))
        for line in path.read_text().splitlines()
    ]
    assert [(r["request_id"], r["outcome"]) for r in stored] == [(request_id, "completed")]


async def test_a_keyed_chain_finds_a_rewrite_that_recomputes_every_hash(tmp_path: Path) -> None:
    # Someone with write access to the audit files but not AUDIT_CHAIN_KEY edits a
    # record and re-hashes it and every record after it, as the plain chain allows.
    directory = tmp_path / "audit"
    env = {
        "AUDIT_STORAGE_TYPE": "file",
        "AUDIT_FILE_PATH": str(directory),
        "AUDIT_CHAIN_KEY": "e2e-chain-key-0123456789abcdefghijklm",
    }
    async with running_app(**env) as running:
        for user in ("alice", "bob", "carol", "dave"):
            await _chat(running, user)
        await _written(running, 4)
        before = await _audit(running).VerifyAuditChain(
            audit_pb2.VerifyAuditChainRequest(), metadata=ADMIN
        )
        assert (before.ok, before.checked, before.unkeyed) == (True, 4, 0)
        events = await _audit(running).ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(), metadata=ADMIN
        )
        assert {e.key_id for e in events.events} == {events.events[0].key_id} != {""}
    (log,) = directory.glob("*.log")
    records = [decode(line) for line in log.read_bytes().splitlines()]
    edited = dataclasses.replace(records[1], outcome="hard_veto", key_id="", hash="")
    forged = [*records[:1], *seal_all([edited, *records[2:]], ChainHead(1, records[0].hash))]
    log.write_bytes(b"".join(r.line() for r in forged))
    async with running_app(**env) as running:
        after = await _audit(running).VerifyAuditChain(
            audit_pb2.VerifyAuditChainRequest(), metadata=ADMIN
        )
    assert (after.ok, after.first_bad_seq, after.checked) == (False, 2, 1)
    assert "no chain key but follows keyed records" in after.problem


async def test_list_goes_on_past_a_line_that_no_longer_parses(tmp_path: Path) -> None:
    # ListAuditEvents gave the pages before such a line, then INTERNAL; with it the
    # last line and the gateway restarted, every list call was INTERNAL.
    directory = tmp_path / "audit"
    env = {"AUDIT_STORAGE_TYPE": "file", "AUDIT_FILE_PATH": str(directory)}
    async with running_app(**env) as running:
        for user in ("alice", "bob", "carol", "dave"):
            await _chat(running, user)
        await _written(running, 4)
    (log,) = directory.glob("*.log")
    lines = log.read_bytes().splitlines(keepends=True)
    for edited in (1, 3):  # mid-file, then the last line (a restart over it)
        lines[edited] = lines[edited][:50] + b"GARBAGE\n"
        log.write_bytes(b"".join(lines))
        async with running_app(**env) as running:
            listed = await _audit(running).ListAuditEvents(
                audit_pb2.ListAuditEventsRequest(page_size=1), metadata=ADMIN
            )
            seqs = [e.seq for e in listed.events]
            token = listed.next_page_token
            while token:
                listed = await _audit(running).ListAuditEvents(
                    audit_pb2.ListAuditEventsRequest(page_size=1, page_token=token),
                    metadata=ADMIN,
                )
                seqs += [e.seq for e in listed.events]
                token = listed.next_page_token
            verified = await _audit(running).VerifyAuditChain(
                audit_pb2.VerifyAuditChainRequest(), metadata=ADMIN
            )
        assert seqs == [s for s in (1, 2, 3, 4) if s not in (2, edited + 1)]
        assert not verified.ok and log.name in verified.problem


async def test_a_record_stored_with_counts_past_int64_still_lists() -> None:
    # A provider's 1e20-token usage report was audited as it came (memory sink):
    # every ListAuditEvents page holding the record then failed INTERNAL (the
    # int64 fields), so the trail could not be read past it. The adapters no longer
    # believe such counts; a record stored before must not break listing either.
    async with running_app() as running:
        writer = running.app.audit_log
        assert writer is not None
        await _chat(running, "before")
        await writer.record(dataclasses.replace(summary(7), usage=Usage(10**20, 2**64)))
        await _chat(running, "after")
        await _written(running, 3)
        listed = await _audit(running).ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(), metadata=ADMIN
        )
        assert [e.seq for e in listed.events] == [1, 2, 3]
        huge = listed.events[1]
        assert (huge.input_tokens, huge.output_tokens) == (2**63 - 1, 2**63 - 1)  # saturated
        stored = json.loads(huge.canonical_json)  # as stored, what the hash covers
        assert (stored["input_tokens"], stored["output_tokens"]) == (10**20, 2**64)
        got = await _audit(running).GetAuditEvent(
            audit_pb2.GetAuditEventRequest(id=huge.id), metadata=ADMIN
        )
        assert got.event == huge


@pytest.mark.parametrize(("stored", "margin"), [("true", 1.0), ("false", 0.2)])
async def test_a_unary_call_stored_before_its_reply_ends_a_second_before_its_deadline(
    stored: str, margin: float
) -> None:
    # A grpc-web Chat ends itself 200 ms before its deadline so its trailers beat
    # the sidecar's timer; with the audit write also before the reply, a 350 ms
    # write left the call cut by the sidecar with no status (a review's).
    async with running_app(AUDIT_STORE_BEFORE_REPLY=stored) as running:
        assert running.app.chat is not None
        assert running.app.chat.unary_stop_margin_s == margin
