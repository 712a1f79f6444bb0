"""Turns the gateway keeps nothing of, on the chat page: a refused
acknowledgement, a stream stopped before any text, an acknowledgement still
awaited at a reload. None may look kept, and none may lose what was typed."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.e2e.web.conftest import OutageGateway
from tests.e2e.web.test_chat_page import send, sign_in
from tests.fixtures.common import wait_until
from tests.fixtures.envoy import FREE_RATE_LIMIT, EnvoySidecar, Upstream
from tests.fixtures.gateway_thread import GatewayThread, fresh_token
from tests.fixtures.server import mint

SOFT_VETO = "should I put my life savings into one stock"


def _ask_for_an_ack(page: Page) -> None:
    send(page, SOFT_VETO)
    box = page.locator("li.msg.assistant").last
    expect(box).to_have_attribute("data-outcome", "ack_required", timeout=20_000)
    expect(box.locator(".ack-button")).to_be_enabled()


def test_an_acknowledgement_refused_by_the_rate_limit_can_be_given_again(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The ack button stayed disabled for good after a 429 and the message was not
    # given back: the notice's "Try again in 58 s" left nothing to try again with.
    assert FREE_RATE_LIMIT == 2
    sign_in(page, envoy_sidecar, fresh_token("free"))
    _ask_for_an_ack(page)
    send(page, "Give me a plan for writing my thesis")  # the minute's second request
    expect(page.locator("li.msg.assistant").last).to_have_attribute(
        "data-outcome", "completed", timeout=20_000
    )
    button = page.locator(".ack-button")
    button.click()
    notice = page.locator("#notice")
    expect(notice).to_contain_text("Rate limit reached (2 per minute)")
    expect(notice).to_contain_text(re.compile(r"Try again in \d+ s"))
    expect(button).to_be_enabled()
    expect(page.locator("li.msg")).to_have_count(4)  # the refused resend left no answer
    expect(page.locator("li.msg.user .body").first).to_have_text(SOFT_VETO)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/chat/stream")) as again:
        button.click()  # still the same minute: refused again, and still there to click
    assert again.value.status == 429
    expect(page.locator("#send")).to_be_enabled()
    expect(button).to_be_enabled()
    expect(page.locator("li.msg")).to_have_count(4)


def test_an_acknowledgement_the_model_could_not_answer_goes_back_to_the_input(
    page: Page, unavailable_sidecar: EnvoySidecar, unavailable_gateway: GatewayThread
) -> None:
    # The shield spent the ack token, then no provider answered: the button stayed
    # disabled, the question stayed in the list as if answered, and its text was
    # lost. A spent token cannot be given again, so the message goes back.
    sign_in(page, unavailable_sidecar, fresh_token("pro"))
    _ask_for_an_ack(page)
    page.locator(".ack-button").click()
    expect(page.locator("#notice")).to_contain_text("Not answered", timeout=20_000)
    expect(page.locator("li.msg")).to_have_count(0)
    expect(page.locator("#input")).to_have_value(SOFT_VETO)
    expect(page.locator("#send")).to_be_enabled()


def test_a_stream_stopped_before_any_text_gives_its_message_back(
    page: Page, hesitant_sidecar: EnvoySidecar, hesitant_gateway: GatewayThread
) -> None:
    # The question stayed in the list marked "stopped", as if kept; the gateway kept
    # nothing of it, so a reload dropped it and the typed text was lost.
    cancelled = list(hesitant_gateway.outcomes().values()).count("cancelled")
    sign_in(page, hesitant_sidecar, fresh_token("pro"))
    send(page, "tell me something long")
    expect(page.locator("#gates li.gate").first).to_be_visible(timeout=20_000)
    expect(page.locator("li.msg.assistant .body")).to_be_empty()
    page.click("#stop")
    expect(page.locator("li.msg")).to_have_count(0)
    expect(page.locator("#input")).to_have_value("tell me something long")
    expect(page.locator("#notice")).to_contain_text("Stopped before any answer")
    expect(page.locator("#send")).to_be_enabled()
    wait_until(
        lambda: list(hesitant_gateway.outcomes().values()).count("cancelled") > cancelled,
        timeout_s=10,
        what="the stopped stream cancelled at the gateway",
    )


def test_a_reload_gives_back_a_message_still_awaiting_acknowledgement(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The question and its ack box vanished at a reload with no word: the gateway
    # keeps nothing of a turn until it is acknowledged and answered.
    sign_in(page, envoy_sidecar, fresh_token("pro"))
    send(page, "Give me a plan for writing my thesis")
    expect(page.locator("li.msg.assistant").last).to_have_attribute(
        "data-outcome", "completed", timeout=20_000
    )
    _ask_for_an_ack(page)
    page.reload()
    expect(page.locator("#input")).to_have_value(SOFT_VETO, timeout=10_000)
    expect(page.locator("#notice")).to_contain_text("it is back in the input")
    expect(page.locator("li.msg")).to_have_count(2)  # the kept exchange only
    expect(page.locator(".ack-button")).to_have_count(0)
    page.reload()  # given back once
    expect(page.locator("li.msg")).to_have_count(2, timeout=10_000)
    expect(page.locator("#notice")).to_be_hidden()
    _ask_for_an_ack(page)  # sent again: asked again
    expect(page.locator("li.msg")).to_have_count(4)


def test_an_answered_message_is_not_given_back_at_a_reload(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    sign_in(page, envoy_sidecar, fresh_token("pro"))
    _ask_for_an_ack(page)
    page.locator(".ack-button").click()
    expect(page.locator("li.msg.assistant").last).to_have_attribute(
        "data-outcome", "completed", timeout=20_000
    )
    page.reload()
    expect(page.locator("li.msg")).to_have_count(2, timeout=10_000)
    expect(page.locator("#input")).to_have_value("")
    expect(page.locator("#notice")).to_be_hidden()


def test_a_message_stopped_before_any_text_beside_a_new_draft_is_not_lost(
    page: Page, hesitant_sidecar: EnvoySidecar, hesitant_gateway: GatewayThread
) -> None:
    # With the next message already typed, the stopped one left the list and did not
    # go back either (the input was taken): its text was gone from page and tab.
    sign_in(page, hesitant_sidecar, fresh_token("pro"))
    send(page, "tell me something long")
    expect(page.locator("#gates li.gate").first).to_be_visible(timeout=20_000)
    page.fill("#input", "my next draft")
    page.click("#stop")
    expect(page.locator("#notice")).to_contain_text("It stays in the list")
    expect(page.locator("#input")).to_have_value("my next draft")  # not overwritten
    question = page.locator("li.msg.user")
    expect(question.locator(".body")).to_have_text("tell me something long")
    expect(question.locator(".meta")).to_have_text("not kept")
    expect(page.locator("li.msg.assistant")).to_have_count(0)
    page.reload()  # the gateway kept nothing of it: the input gets it back
    expect(page.locator("#input")).to_have_value("tell me something long", timeout=10_000)
    expect(page.locator("#notice")).to_contain_text("it is back in the input")


def test_a_reload_with_a_refused_token_keeps_the_unsent_message_for_its_user(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The unsent message was taken from the tab before the token was checked: a
    # refused (expired) token signed out and the same user signing in again found
    # the conversation but not the message.
    sub = f"pro-{uuid.uuid4().hex[:12]}"
    sign_in(page, envoy_sidecar, mint(sub, "pro"))
    send(page, "Give me a plan for writing my thesis")
    expect(page.locator("li.msg.assistant").last).to_have_attribute(
        "data-outcome", "completed", timeout=20_000
    )
    _ask_for_an_ack(page)
    expired = mint(sub, "pro", ttl_s=-3600)  # past the verifier's leeway
    page.evaluate(f"sessionStorage.setItem('novaos.token', {expired!r})")
    page.reload()
    expect(page.locator("#session")).to_have_text("token refused", timeout=10_000)
    assert page.evaluate("sessionStorage.getItem('novaos.unsent')")
    page.fill("#token", mint(sub, "pro"))
    page.click("#use-token")
    expect(page.locator("#input")).to_have_value(SOFT_VETO, timeout=10_000)
    expect(page.locator("#notice")).to_contain_text("it is back in the input")
    expect(page.locator("li.msg")).to_have_count(2)  # the kept exchange


def test_a_reload_while_the_gateway_is_down_keeps_the_unsent_message(
    page: Page, outage_sidecar: EnvoySidecar, outage_gateway: OutageGateway
) -> None:
    # The unsent message was taken from the tab before the gateway answered: a
    # reload during an outage lost it, and Retry brought back the conversation only.
    sign_in(page, outage_sidecar, fresh_token("pro"))
    send(page, "Give me a plan for writing my thesis")
    expect(page.locator("li.msg.assistant").last).to_have_attribute(
        "data-outcome", "completed", timeout=20_000
    )
    _ask_for_an_ack(page)
    outage_gateway.down()
    page.reload()
    expect(page.locator("#notice")).to_contain_text("could not be loaded", timeout=10_000)
    expect(page.locator("#input")).to_have_value("")
    assert page.evaluate("sessionStorage.getItem('novaos.unsent')")
    outage_gateway.up()
    wait_until(outage_sidecar.upstream_healthy, timeout_s=30, what="gateway back behind envoy")
    page.click("#notice button")  # Retry
    expect(page.locator("li.msg")).to_have_count(2, timeout=10_000)
    expect(page.locator("#input")).to_have_value(SOFT_VETO, timeout=10_000)
    expect(page.locator("#notice")).to_contain_text("it is back in the input")
    page.reload()  # given back once
    expect(page.locator("li.msg")).to_have_count(2, timeout=10_000)
    expect(page.locator("#input")).to_have_value("")


def test_an_acknowledgement_stopped_after_its_gates_goes_back_to_the_input(
    page: Page, hesitant_sidecar: EnvoySidecar, hesitant_gateway: GatewayThread
) -> None:
    # Stopped after the shield had spent the ack token, the box stayed and its
    # button worked again: the next click was refused "ack token already used".
    sign_in(page, hesitant_sidecar, fresh_token("pro"))
    _ask_for_an_ack(page)
    page.locator(".ack-button").click()
    expect(page.locator("#gates li.gate[data-gate='shield']")).to_be_visible(timeout=20_000)
    expect(page.locator("li.msg.assistant .body").last).to_be_empty()
    page.click("#stop")
    expect(page.locator("#notice")).to_contain_text("It is back in the input")
    expect(page.locator("#input")).to_have_value(SOFT_VETO)
    expect(page.locator("li.msg")).to_have_count(0)
    expect(page.locator(".ack-button")).to_have_count(0)
    expect(page.locator("#send")).to_be_enabled()
    assert page.evaluate("sessionStorage.getItem('novaos.unsent')") is None
