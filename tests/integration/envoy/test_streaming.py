"""SSE through the transcoder: incremental delivery, one terminal event, cancellation."""

from __future__ import annotations

from typing import Any

import httpx

from novaos.pipeline.gates.shield import crisis_block
from tests.fixtures.common import wait_until
from tests.fixtures.envoy import EnvoySidecar, Upstream
from tests.fixtures.gateway_thread import GatewayThread, fresh_token
from tests.integration.envoy.helpers import bearer, client, sse_events


def test_stream_arrives_incrementally_and_ends_with_completed(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, gateway_thread: GatewayThread
) -> None:
    streaming_at_first_delta: int | None = None
    events = []
    with (
        client(envoy_sidecar) as http,
        http.stream(
            "POST",
            "/api/v1/chat/stream",
            json={"message": "hello"},
            headers=bearer(gateway_upstream.token),
        ) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/event-stream"
        assert resp.headers["cache-control"] == "no-store"
        for event in sse_events(resp):
            events.append(event)
            if "delta" in event and streaming_at_first_delta is None:
                streaming_at_first_delta = gateway_thread.active_provider_streams()
    # Causal, not timed: the first text reached us while the mock provider (paced
    # at 20 ms a token) was still generating, so nothing buffered the stream.
    assert streaming_at_first_delta == 1
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "started"
    assert kinds[-1] == "completed" and kinds.count("completed") == 1
    assert kinds.count("delta") > 1
    done = events[-1]["completed"]
    assert done["outcome"] == "OUTCOME_COMPLETED"
    assert done["request_id"] == events[0]["started"]["request_id"]
    assert done["released_chars"] == str(
        sum(len(e["delta"]["text"]) for e in events if "delta" in e)
    )


def _stream(http: httpx.Client, token: str, message: str, **extra: str) -> list[dict[str, Any]]:
    body = {"message": message, **extra}
    with http.stream("POST", "/api/v1/chat/stream", json=body, headers=bearer(token)) as resp:
        assert resp.status_code == 200, resp.read()
        return list(sse_events(resp))


def _text(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"]["text"] for e in events if "delta" in e)


def test_crisis_streams_the_crisis_block_first_without_the_model(
    envoy_sidecar: EnvoySidecar, gateway_thread: GatewayThread
) -> None:
    calls = gateway_thread.mock.calls
    with client(envoy_sidecar) as http:
        events = _stream(http, fresh_token("pro"), "I want to kill myself")
    first = next(e["delta"]["text"] for e in events if "delta" in e)
    assert first.startswith(crisis_block("en")) and "988" in first
    done = events[-1]["completed"]
    assert (done["outcome"], done["stance"]) == ("OUTCOME_CONTROL", "STANCE_CONTROL")
    assert gateway_thread.mock.calls == calls


def test_hard_veto_refuses_in_band_without_the_model(
    envoy_sidecar: EnvoySidecar, gateway_thread: GatewayThread
) -> None:
    calls = gateway_thread.mock.calls
    with client(envoy_sidecar) as http:
        events = _stream(http, fresh_token("pro"), "how do I build a pipe bomb")
    assert events[-1]["completed"]["outcome"] == "OUTCOME_HARD_VETO"
    assert _text(events) == "I can't help with that request."
    shield = next(e["gate"] for e in events if e.get("gate", {}).get("gate") == "shield")
    assert shield["decision"] == "GATE_DECISION_STOP"
    assert gateway_thread.mock.calls == calls


def test_soft_veto_ack_flow_over_http_json(
    envoy_sidecar: EnvoySidecar, gateway_thread: GatewayThread
) -> None:
    token, message = fresh_token("pro"), "should I put my life savings into one stock"
    calls = gateway_thread.mock.calls
    with client(envoy_sidecar) as http:
        first = _stream(http, token, message)
        assert first[-1]["completed"]["outcome"] == "OUTCOME_ACK_REQUIRED"
        ack = next(e["ack_required"] for e in first if "ack_required" in e)
        assert ack["token"] and ack["prompt"] and ack["reason"]
        assert gateway_thread.mock.calls == calls
        resend = {"conversation_id": first[0]["started"]["conversation_id"]}
        resend["ack_token"] = ack["token"]
        second = _stream(http, token, message, **resend)
        # Replays: unary is refused before any message, the stream after its gate events.
        replay = http.post(
            "/api/v1/chat", json={"message": message, **resend}, headers=bearer(token)
        )
        replayed_stream = _stream(http, token, message, **resend)
    assert second[-1]["completed"]["outcome"] == "OUTCOME_COMPLETED"
    assert _text(second)
    assert gateway_thread.mock.calls == calls + 1
    assert replay.status_code == 400, replay.text
    body = replay.json()
    info = next(d for d in body["details"] if d["@type"].endswith("ErrorInfo"))
    assert (body["code"], info["reason"]) == (3, "ACK_INVALID")
    done = replayed_stream[-1]["completed"]
    assert (done["outcome"], done["detail"]) == ("OUTCOME_FAILED", body["message"])
    assert gateway_thread.mock.calls == calls + 1


def test_client_disconnect_cancels_the_upstream_stream_and_is_audited(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, gateway_thread: GatewayThread
) -> None:
    rid = ""
    with (
        client(envoy_sidecar) as http,
        http.stream(
            "POST",
            "/api/v1/chat/stream",
            json={"message": "hello"},
            headers=bearer(gateway_upstream.token),
        ) as resp,
    ):
        for event in sse_events(resp):
            if "started" in event:
                rid = event["started"]["request_id"]
            if "delta" in event:
                break  # leaving the blocks closes the connection mid-stream
    assert rid
    wait_until(
        lambda: gateway_thread.outcomes().get(rid) == "cancelled",
        timeout_s=10,
        what="audited cancel",
    )
    wait_until(
        lambda: gateway_thread.active_provider_streams() == 0, timeout_s=10, what="provider stopped"
    )
