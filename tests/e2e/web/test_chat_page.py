"""The chat page in headless Chromium, through Envoy, against the real gateway
(streaming, Stop) and the contract stub (gates, ack flow, crisis, veto, limits)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.web.conftest import shot
from tests.fixtures.common import wait_until
from tests.fixtures.envoy import EnvoySidecar, Upstream
from tests.fixtures.gateway_thread import GatewayThread


def sign_in(page: Page, sidecar: EnvoySidecar, token: str) -> None:
    page.goto(sidecar.https_url + "/")
    expect(page.locator("#dev-token")).to_be_hidden()  # not development: no dev token
    page.fill("#token", token)
    page.click("#use-token")
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator("#signin")).to_be_hidden()


def send(page: Page, text: str) -> None:
    page.fill("#input", text)
    page.click("#send")


def test_streamed_answer_and_gate_timeline(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    sign_in(page, envoy_sidecar, gateway_upstream.token)
    send(page, "Give me a plan for writing my thesis")
    answer = page.locator("li.msg.assistant").last
    expect(answer).to_have_attribute("data-outcome", "completed", timeout=20_000)
    expect(answer.locator(".body")).to_contain_text("beats")
    expect(answer.locator(".meta").first).to_contain_text("completed")
    expect(answer.locator(".meta").last).to_contain_text("Next step")  # spark, sword stance
    expect(page.locator("#gates li.gate").first).to_contain_text("pass")
    expect(page.locator("#stop")).to_be_disabled()
    shot(page, "chat-streamed")


def test_stop_cancels_the_stream_mid_answer(
    page: Page, slow_sidecar: EnvoySidecar, slow_gateway: GatewayThread
) -> None:
    sign_in(page, slow_sidecar, slow_gateway.token)
    send(page, "tell me something long")
    answer = page.locator("li.msg.assistant").last
    expect(answer.locator(".body")).not_to_be_empty(timeout=20_000)
    expect(answer).to_have_class("msg assistant streaming")  # still arriving
    page.click("#stop")
    expect(answer.locator(".meta")).to_have_text("stopped")
    expect(page.locator("#send")).to_be_enabled()
    shot(page, "chat-stopped")
    wait_until(
        lambda: "cancelled" in slow_gateway.outcomes().values(), timeout_s=10, what="audited cancel"
    )


def test_soft_veto_ack_flow_then_answer(
    page: Page, stub_sidecar: EnvoySidecar, stub_upstream: Upstream
) -> None:
    sign_in(page, stub_sidecar, stub_upstream.token)
    send(page, "should I put my savings into one stock")
    vetoed = page.locator("li.msg.assistant").last
    expect(vetoed).to_have_attribute("data-outcome", "ack_required")
    expect(page.locator("#gates li.gate.await_ack")).to_contain_text("shield")
    expect(vetoed.locator("blockquote")).to_have_text("I understand the risk.")
    shot(page, "chat-ack-required")
    vetoed.locator(".ack-button").click()
    answer = page.locator("li.msg.assistant").last
    expect(answer).to_have_attribute("data-outcome", "completed", timeout=20_000)
    expect(answer.locator(".body")).to_contain_text("tok0")
    expect(page.locator("li.msg.user")).to_have_count(1)  # the resend is not a new user turn


def test_crisis_veto_and_rate_limit_are_styled_distinctly(
    page: Page, stub_sidecar: EnvoySidecar, stub_upstream: Upstream
) -> None:
    sign_in(page, stub_sidecar, stub_upstream.token)
    send(page, "crisis")
    crisis = page.locator("li.msg.assistant").last
    expect(crisis).to_have_class("msg assistant crisis")
    expect(crisis.locator(".body")).to_contain_text("988")
    send(page, "a weapon")
    veto = page.locator("li.msg.assistant").last
    expect(veto).to_have_class("msg assistant veto")
    expect(veto.locator(".body")).to_have_text("I can't help with that.")
    send(page, "rate limit")
    expect(page.locator("#notice")).to_have_class("notice rate")
    expect(page.locator("#notice")).to_contain_text("Try again in 7 s")
    shot(page, "chat-outcomes")


def test_refused_token_signs_out_with_a_message(page: Page, envoy_sidecar: EnvoySidecar) -> None:
    sign_in(page, envoy_sidecar, "not-a-valid-token")
    send(page, "hello")
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator("#notice")).to_contain_text("token refused")
    expect(page.locator("#signin")).to_be_visible()
