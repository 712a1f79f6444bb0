"""SSE through the transcoder: incremental delivery, one terminal event, cancellation."""

from __future__ import annotations

from tests.fixtures.common import wait_until
from tests.fixtures.envoy import EnvoySidecar, Upstream
from tests.fixtures.gateway_thread import GatewayThread
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


def test_policy_outcomes_end_with_ok_status_and_terminal_event(
    stub_sidecar: EnvoySidecar, stub_upstream: Upstream
) -> None:
    outcomes = {}
    with client(stub_sidecar) as http:
        for message in ("crisis now", "a weapon please", "my savings"):
            with http.stream(
                "POST",
                "/api/v1/chat/stream",
                json={"message": message},
                headers=bearer(stub_upstream.token),
            ) as resp:
                assert resp.status_code == 200
                events = list(sse_events(resp))
            outcomes[message] = events[-1]["completed"]["outcome"]
            if message == "my savings":
                ack = next(e["ack_required"] for e in events if "ack_required" in e)
                assert ack["token"] and ack["prompt"]
    assert outcomes == {
        "crisis now": "OUTCOME_CONTROL",
        "a weapon please": "OUTCOME_HARD_VETO",
        "my savings": "OUTCOME_ACK_REQUIRED",
    }


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
