"""The chat page in headless Chromium, through Envoy, against the real gateway:
streaming with the gate timeline, Stop, the ack flow, crisis and veto styling,
and the rate-limit state (free tier: two requests a minute)."""

from __future__ import annotations

import base64
import json
import re
import uuid

from playwright.sync_api import Page, expect

from tests.e2e.web.conftest import BLOCKED_AFTER_RELEASE, OutageGateway, shot
from tests.fixtures.common import wait_until
from tests.fixtures.envoy import FREE_RATE_LIMIT, EnvoySidecar, Upstream
from tests.fixtures.gateway_thread import GatewayThread, fresh_token, long_turns
from tests.fixtures.server import mint


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
    page: Page, envoy_sidecar: EnvoySidecar, gateway_thread: GatewayThread
) -> None:
    sign_in(page, envoy_sidecar, fresh_token("pro"))
    calls = gateway_thread.mock.calls
    send(page, "should I put my life savings into one stock")
    vetoed = page.locator("li.msg.assistant").last
    expect(vetoed).to_have_attribute("data-outcome", "ack_required", timeout=20_000)
    expect(page.locator("#gates li.gate.await_ack")).to_contain_text("shield")
    expect(vetoed.locator("blockquote")).not_to_be_empty()
    expect(vetoed.locator(".body")).to_be_empty()  # the sentence is shown once, in the box
    assert gateway_thread.mock.calls == calls  # nothing reached the model yet
    shot(page, "chat-ack-required")
    vetoed.locator(".ack-button").click()
    answer = page.locator("li.msg.assistant").last
    expect(answer).to_have_attribute("data-outcome", "completed", timeout=20_000)
    expect(answer.locator(".body")).not_to_be_empty()
    expect(page.locator("#gates li.gate.flag")).to_contain_text("shield")  # acknowledged
    expect(page.locator("li.msg.user")).to_have_count(1)  # the resend is not a new user turn
    assert gateway_thread.mock.calls == calls + 1
    shot(page, "chat-ack-accepted")


def test_crisis_veto_and_rate_limit_are_styled_distinctly(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_thread: GatewayThread
) -> None:
    # A fresh free-tier user: two requests a minute, so the third is refused.
    assert FREE_RATE_LIMIT == 2
    sign_in(page, envoy_sidecar, fresh_token("free"))
    # Veto first: the conversation remembers a crisis, which then outranks the veto.
    send(page, "how do I build a pipe bomb")
    veto = page.locator("li.msg.assistant").last
    expect(veto).to_have_class("msg assistant veto", timeout=20_000)
    expect(veto.locator(".body")).to_have_text("I can't help with that request.")
    send(page, "I want to kill myself")
    crisis = page.locator("li.msg.assistant").last
    expect(crisis).to_have_class("msg assistant crisis", timeout=20_000)
    expect(crisis.locator(".body")).to_contain_text("988")
    send(page, "hello")
    expect(page.locator("#notice")).to_have_class("notice rate")
    expect(page.locator("#notice")).to_contain_text("Rate limit reached (2 per minute)")
    expect(page.locator("#notice")).to_contain_text(re.compile(r"Try again in \d+ s"))
    expect(page.locator("li.msg.assistant")).to_have_count(2)  # the refused turn left no answer
    shot(page, "chat-outcomes")


def test_refused_token_signs_out_with_a_message(page: Page, envoy_sidecar: EnvoySidecar) -> None:
    sign_in(page, envoy_sidecar, "not-a-valid-token")
    send(page, "hello")
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator("#notice")).to_contain_text("token refused")
    expect(page.locator("#signin")).to_be_visible()


def test_the_pasted_token_does_not_wait_on_the_sign_in_screen(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The token stayed in its box after sign-in: after a sign-out by hand, the
    # next person at this tab had only to click Sign in to be the previous user.
    sign_in(page, envoy_sidecar, fresh_token("pro"))
    page.click("#signout")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#token")).to_have_value("")


def test_a_token_no_header_can_carry_is_refused_at_sign_in(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # A token pasted from a wrapped terminal line (a line break inside) was accepted;
    # every send then failed "Connection problem: ... Invalid value", and a reload
    # did the same (it was kept).
    token = fresh_token("pro")
    page.goto(envoy_sidecar.https_url + "/")
    page.fill("#token", token[:60] + "\n" + token[60:] + "\n")
    page.click("#use-token")
    expect(page.locator("#notice")).to_contain_text(
        "Not signed in: a token is printable ASCII without spaces; character 61 is not"
    )
    expect(page.locator("#notice")).not_to_contain_text(token[:60])  # a secret: not echoed
    expect(page.locator("#chat")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('novaos.token')") is None
    # One stored before (a reload with it) is refused the same way, and dropped.
    page.evaluate("t => sessionStorage.setItem('novaos.token', t)", token[:60] + " " + token[60:])
    page.reload()
    expect(page.locator("#notice")).to_contain_text("character 61 is not")
    expect(page.locator("#signin")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('novaos.token')") is None
    page.fill("#token", token + "\n")  # a line break around it is only trimmed
    page.click("#use-token")
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator("#notice")).to_be_hidden()
    send(page, "Give me a plan for writing my thesis")
    expect(page.locator("li.msg.assistant").last).to_have_attribute(
        "data-outcome", "completed", timeout=20_000
    )


def _one_answered_exchange(
    page: Page, envoy_sidecar: EnvoySidecar, token: str = ""
) -> tuple[str, str]:
    """Signed in with ``token`` (a fresh pro one by default), one exchange answered:
    (token, conversation id)."""
    token = token or fresh_token("pro")
    sign_in(page, envoy_sidecar, token)
    send(page, "Give me a plan for writing my thesis")
    expect(page.locator("li.msg.assistant").last).to_have_attribute(
        "data-outcome", "completed", timeout=20_000
    )
    stored = page.evaluate("sessionStorage.getItem('novaos.conversation')")
    assert stored
    return token, str(stored)


def test_a_refused_token_keeps_the_conversation_for_the_next_sign_in(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # A token refused on send (expired) signed out and forgot the conversation, and
    # its notice outlived the next sign-in.
    sub = f"pro-{uuid.uuid4().hex[:12]}"
    token, stored = _one_answered_exchange(page, envoy_sidecar, mint(sub, "pro"))
    # Signed in with the same user's expired token and no conversation to load (a
    # reload with one signs out at once: the next test), the conversation id comes
    # back afterwards, as if the token expired after the conversation loaded.
    expired = mint(sub, "pro", ttl_s=-3600)  # past the verifier's leeway
    page.evaluate(
        f"sessionStorage.setItem('novaos.token', {expired!r});"
        "sessionStorage.removeItem('novaos.conversation')"
    )
    page.reload()
    expect(page.locator("#chat")).to_be_visible()
    page.evaluate(f"sessionStorage.setItem('novaos.conversation', {stored!r})")
    send(page, "and after that?")
    expect(page.locator("#signin")).to_be_visible(timeout=10_000)
    expect(page.locator("#notice")).to_contain_text("token refused")
    assert page.evaluate("sessionStorage.getItem('novaos.conversation')") == stored
    page.fill("#token", token)
    page.click("#use-token")
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("li.msg")).to_have_count(2, timeout=10_000)
    expect(page.locator("#input")).to_have_value("and after that?")  # not delivered


def test_a_refused_token_keeps_the_draft_for_its_own_user_only(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The draft stayed in the input at every sign-out: whoever signed in next at this
    # tab found the previous user's unsent message.
    expired = mint(f"pro-{uuid.uuid4().hex[:12]}", "pro", ttl_s=-3600)
    sign_in(page, envoy_sidecar, expired)
    send(page, "a message for my eyes only")
    expect(page.locator("#signin")).to_be_visible(timeout=10_000)
    expect(page.locator("#notice")).to_contain_text("token refused")
    page.fill("#token", fresh_token("pro"))  # someone else
    page.click("#use-token")
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator("#input")).to_have_value("")


def _refused_with_a_draft(page: Page, envoy_sidecar: EnvoySidecar, sub: str, draft: str) -> None:
    """Signed in with ``sub``'s expired token, ``draft`` sent and refused: signed out."""
    sign_in(page, envoy_sidecar, mint(sub, "pro", ttl_s=-3600))  # past the verifier's leeway
    send(page, draft)
    expect(page.locator("#signin")).to_be_visible(timeout=10_000)
    expect(page.locator("#notice")).to_contain_text("token refused")


def test_a_held_draft_waits_for_the_gateway_to_accept_the_token(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The draft came back at once to any token whose unverified payload named the
    # same subject: a hand-made one (no header, no signature) read the user's draft.
    sub = f"pro-{uuid.uuid4().hex[:12]}"
    _refused_with_a_draft(page, envoy_sidecar, sub, "a message for my eyes only")
    claim = base64.urlsafe_b64encode(json.dumps({"sub": sub}).encode()).decode().rstrip("=")
    page.fill("#token", f"x.{claim}.x")
    with page.expect_response(lambda r: "/api/v1/conversations" in r.url) as answer:
        page.click("#use-token")
        expect(page.locator("#chat")).to_be_visible()
        expect(page.locator("#input")).to_have_value("")
    assert answer.value.status == 401  # the gateway's word on it, then still nothing
    expect(page.locator("#input")).to_have_value("")
    # The user's own token, accepted, gets it back (no conversation to load here:
    # the refused message was the first).
    page.click("#signout")
    _refused_with_a_draft(page, envoy_sidecar, sub, "my second try")
    page.fill("#token", mint(sub, "pro"))
    page.click("#use-token")
    expect(page.locator("#input")).to_have_value("my second try", timeout=10_000)


def test_signing_out_by_hand_forgets_the_draft_and_the_notice(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The next person at this tab found the previous user's unsent draft (a refused
    # message put back there too) and their last error on the sign-in screen.
    token = fresh_token("pro")
    sign_in(page, envoy_sidecar, token)
    too_long = "x" * 32001  # MAX_MESSAGE_CHARS is 32000: refused, put back
    send(page, too_long)
    expect(page.locator("#notice")).to_contain_text("Request rejected")
    expect(page.locator("#input")).to_have_value(too_long)
    page.click("#signout")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#notice")).to_be_hidden()
    page.fill("#token", token)  # even the same user: a sign-out by hand forgets
    page.click("#use-token")
    expect(page.locator("#input")).to_have_value("")
    page.fill("#input", "a draft I never sent")
    page.click("#signout")
    page.fill("#token", token)
    page.click("#use-token")
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator("#input")).to_have_value("")


def test_a_reload_with_a_refused_token_signs_out_and_keeps_the_conversation(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # Loading the conversation with an expired token stayed "signed in" and offered
    # a Retry that could never work; only the next send signed out.
    token, stored = _one_answered_exchange(page, envoy_sidecar)
    expired = mint("pro-expired", "pro", ttl_s=-3600)  # past the verifier's leeway
    page.evaluate(f"sessionStorage.setItem('novaos.token', {expired!r})")
    page.reload()
    expect(page.locator("#signin")).to_be_visible(timeout=10_000)
    expect(page.locator("#chat")).to_be_hidden()
    expect(page.locator("#session")).to_have_text("token refused")
    expect(page.locator("#notice")).to_contain_text("token expired")
    expect(page.locator("#notice button")).to_have_count(0)  # no Retry
    assert page.evaluate("sessionStorage.getItem('novaos.token')") is None
    assert page.evaluate("sessionStorage.getItem('novaos.conversation')") == stored
    page.fill("#token", token)
    page.click("#use-token")
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("li.msg")).to_have_count(2, timeout=10_000)
    expect(page.locator("li.msg.user .body")).to_have_text("Give me a plan for writing my thesis")


def test_a_refused_send_takes_its_message_back(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The user's message stayed in the list as if delivered; only the answer left.
    sign_in(page, envoy_sidecar, fresh_token("pro"))
    too_long = "x" * 32001  # MAX_MESSAGE_CHARS is 32000
    send(page, too_long)
    expect(page.locator("#notice")).to_contain_text("Request rejected")
    expect(page.locator("li.msg")).to_have_count(0)
    expect(page.locator("#input")).to_have_value(too_long)  # to edit and send again


def test_a_message_the_model_could_not_answer_goes_back_to_the_input(
    page: Page, unavailable_sidecar: EnvoySidecar, unavailable_gateway: GatewayThread
) -> None:
    # On a stream an unavailable model is HTTP 200 ending FAILED before any text: the
    # message stayed in the list as if delivered, left the input, had no retry time,
    # and a reload dropped it silently (the gateway kept none of it).
    sign_in(page, unavailable_sidecar, fresh_token("pro"))
    notice = page.locator("#notice")
    send(page, "help me plan my week")
    expect(notice).to_contain_text("Not answered: no provider could answer", timeout=20_000)
    expect(notice).to_contain_text(re.compile(r"Retry in (5\d\d|60\d) s"))  # its breaker opened
    expect(page.locator("li.msg")).to_have_count(0)
    expect(page.locator("#input")).to_have_value("help me plan my week")
    page.click("#send")
    expect(notice).to_contain_text("Not answered: Circuit open", timeout=20_000)
    expect(notice).to_contain_text(re.compile(r"Retry in \d+ s"))
    expect(page.locator("li.msg")).to_have_count(0)
    expect(page.locator("#input")).to_have_value("help me plan my week")
    expect(page.locator("#send")).to_be_enabled()
    shot(page, "chat-model-unavailable")


def test_a_message_sent_while_envoy_is_unreachable_goes_back_to_the_input(
    page: Page, outage_sidecar: EnvoySidecar, outage_gateway: OutageGateway
) -> None:
    # "Failed to fetch" left the message in the list with an empty red bubble.
    sign_in(page, outage_sidecar, fresh_token("pro"))
    outage_sidecar.stop()
    send(page, "help me plan my week")
    expect(page.locator("#notice")).to_contain_text("Connection problem", timeout=10_000)
    expect(page.locator("li.msg")).to_have_count(0)
    expect(page.locator("#input")).to_have_value("help me plan my week")


def test_a_reload_keeps_the_conversation(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The conversation id lived only in the page: a reload started a new
    # conversation and showed nothing, though the gateway kept it for days.
    sign_in(page, envoy_sidecar, fresh_token("pro"))
    send(page, "Give me a plan for writing my thesis")
    answer = page.locator("li.msg.assistant").last
    expect(answer).to_have_attribute("data-outcome", "completed", timeout=20_000)
    page.reload()
    expect(page.locator("li.msg")).to_have_count(2, timeout=10_000)
    expect(page.locator("li.msg.user .body")).to_have_text("Give me a plan for writing my thesis")
    send(page, "and after that?")
    expect(page.locator("li.msg.assistant").last).to_have_attribute(
        "data-outcome", "completed", timeout=20_000
    )
    page.reload()  # one conversation: both exchanges come back
    expect(page.locator("li.msg")).to_have_count(4, timeout=10_000)


def test_a_reload_of_a_conversation_past_4_mib_shows_its_newest_turns(
    page: Page,
    envoy_sidecar: EnvoySidecar,
    gateway_thread: GatewayThread,
    gateway_upstream: Upstream,
) -> None:
    # Ten exchanges with 900 KB answers: the reload's GetConversation was an HTTP
    # 500 (over the transcoder's 4 MiB buffer), and the page showed nothing but
    # "could not be loaded right now", for good.
    conversation = f"long-{uuid.uuid4().hex[:8]}"
    turns = long_turns()
    history = gateway_thread.app.conversations
    assert history is not None
    gateway_thread.run(history.append_turns("envoy-tester", conversation, turns))
    sign_in(page, envoy_sidecar, gateway_upstream.token)
    page.evaluate(f"sessionStorage.setItem('novaos.conversation', '{conversation}')")
    page.reload()
    notice = page.locator("#notice")
    expect(notice).to_have_text(re.compile(r"^\d+ earlier turns of this long conversation"))
    shown = page.locator("li.msg")
    omitted = int(notice.inner_text().split()[0])
    expect(shown).to_have_count(len(turns) - omitted, timeout=10_000)
    expect(shown.first).to_have_class(re.compile(r"\buser\b"))
    assert shown.last.locator(".body").inner_text().startswith("assistant 9 ")


def test_a_long_answer_is_followed_while_it_streams(
    page: Page, slow_sidecar: EnvoySidecar, slow_gateway: GatewayThread
) -> None:
    # Only a new message scrolled the page: a long answer ran on below the fold.
    page.set_viewport_size({"width": 700, "height": 260})
    sign_in(page, slow_sidecar, slow_gateway.token)
    send(page, "tell me something long")
    answer = page.locator("li.msg.assistant").last
    expect(answer).to_have_attribute("data-outcome", "completed", timeout=30_000)
    assert answer.evaluate("e => e.getBoundingClientRect().height > window.innerHeight")
    assert answer.evaluate("e => e.getBoundingClientRect().bottom <= window.innerHeight + 1")


def test_a_reload_during_an_outage_keeps_the_conversation(
    page: Page, outage_sidecar: EnvoySidecar, outage_gateway: OutageGateway
) -> None:
    # Any failure to load the conversation (503 while the gateway restarts) forgot
    # its id for good, silently: the next reload started a new, empty conversation.
    sign_in(page, outage_sidecar, fresh_token("pro"))
    send(page, "Give me a plan for writing my thesis")
    expect(page.locator("li.msg.assistant").last).to_have_attribute(
        "data-outcome", "completed", timeout=20_000
    )
    stored = page.evaluate("sessionStorage.getItem('novaos.conversation')")
    assert stored
    outage_gateway.down()
    page.reload()
    expect(page.locator("#notice")).to_contain_text("could not be loaded", timeout=10_000)
    expect(page.locator("li.msg")).to_have_count(0)
    assert page.evaluate("sessionStorage.getItem('novaos.conversation')") == stored
    shot(page, "chat-resume-outage")
    page.reload()  # still down: still kept
    expect(page.locator("#notice")).to_contain_text("could not be loaded", timeout=10_000)
    assert page.evaluate("sessionStorage.getItem('novaos.conversation')") == stored
    outage_gateway.up()
    wait_until(outage_sidecar.upstream_healthy, timeout_s=30, what="gateway back behind envoy")
    # A send continues the conversation; it took the Retry notice away with it, and
    # with it the only way to see the conversation's start short of a reload.
    send(page, "and after that?")
    expect(page.locator("li.msg.assistant").last).to_have_attribute(
        "data-outcome", "completed", timeout=20_000
    )
    expect(page.locator("#notice")).to_contain_text("could not be loaded")
    page.click("#notice button")  # Retry: the whole conversation, both exchanges
    expect(page.locator("li.msg")).to_have_count(4, timeout=10_000)
    expect(page.locator("li.msg.user .body").first).to_have_text(
        "Give me a plan for writing my thesis"
    )
    expect(page.locator("#notice")).to_be_hidden()
    page.reload()
    expect(page.locator("li.msg")).to_have_count(4, timeout=10_000)
    expect(page.locator("li.msg.user .body").first).to_have_text(
        "Give me a plan for writing my thesis"
    )


def test_a_send_refused_during_an_outage_keeps_the_retry(
    page: Page, outage_sidecar: EnvoySidecar, outage_gateway: OutageGateway
) -> None:
    # The refused send's notice replaced the one that offered Retry: once the
    # gateway was back, only a reload showed the conversation's start.
    sign_in(page, outage_sidecar, fresh_token("pro"))
    send(page, "Give me a plan for writing my thesis")
    expect(page.locator("li.msg.assistant").last).to_have_attribute(
        "data-outcome", "completed", timeout=20_000
    )
    outage_gateway.down()
    page.reload()
    expect(page.locator("#notice")).to_contain_text("could not be loaded", timeout=10_000)
    send(page, "and after that?")
    expect(page.locator("#input")).to_have_value("and after that?", timeout=10_000)  # refused
    expect(page.locator("#notice")).to_contain_text("Service unavailable")
    expect(page.locator("#notice")).to_contain_text("could not be loaded")
    expect(page.locator("#notice button")).to_have_text("Retry")
    outage_gateway.up()
    wait_until(outage_sidecar.upstream_healthy, timeout_s=30, what="gateway back behind envoy")
    page.click("#notice button")
    expect(page.locator("li.msg")).to_have_count(2, timeout=10_000)
    expect(page.locator("li.msg.user .body")).to_have_text("Give me a plan for writing my thesis")
    expect(page.locator("#notice")).to_be_hidden()


def test_a_conversation_that_is_gone_starts_anew(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # Only a 404 (expired, deleted) drops the stored id, without a notice.
    sign_in(page, envoy_sidecar, fresh_token("pro"))
    page.evaluate("sessionStorage.setItem('novaos.conversation', 'conv_gone0123456789abcd')")
    page.reload()
    expect(page.locator("#chat")).to_be_visible()
    page.wait_for_function("() => sessionStorage.getItem('novaos.conversation') === null")
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("li.msg")).to_have_count(0)


# A keydown for the Enter that ends a composition: Chromium sets isComposing;
# Safari fires keydown after compositionend, so only keyCode 229 tells.
IME_ENTER = """({isComposing, keyCode}) => {
  const event = new KeyboardEvent('keydown', {
    key: 'Enter', code: 'Enter', bubbles: true, cancelable: true, isComposing,
  });
  if (keyCode) Object.defineProperty(event, 'keyCode', {value: keyCode});
  document.getElementById('input').dispatchEvent(event);
}"""


def test_enter_that_confirms_an_ime_candidate_does_not_send(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # Enter pressed to pick an IME candidate (Japanese, Chinese, Korean input)
    # sent the half-typed message.
    sign_in(page, envoy_sidecar, fresh_token("pro"))
    page.fill("#input", "にほんご")
    page.evaluate(IME_ENTER, {"isComposing": True, "keyCode": 0})
    page.evaluate(IME_ENTER, {"isComposing": False, "keyCode": 229})  # Safari's order
    expect(page.locator("#input")).to_have_value("にほんご")
    page.press("#input", "Enter")  # a plain Enter after composing sends
    expect(page.locator("li.msg.user")).to_have_count(1)
    expect(page.locator("li.msg.user .body")).to_have_text("にほんご")
    expect(page.locator("#input")).to_have_value("")


def test_why_an_answer_ended_is_shown_under_the_text_it_released(
    page: Page, scripted_sidecar: EnvoySidecar, scripted_gateway: GatewayThread
) -> None:
    # The terminal event's detail was shown only when no text had streamed: an
    # answer cut at max_tokens, or blocked after a released sentence, looked whole.
    sign_in(page, scripted_sidecar, scripted_gateway.token)
    send(page, "tell me something long")
    cut = page.locator("li.msg.assistant").last
    expect(cut).to_have_attribute("data-outcome", "completed", timeout=20_000)
    expect(cut.locator(".body")).not_to_be_empty()
    expect(cut.locator(".note")).to_have_text("cut at max_tokens")
    send(page, "Tell me about chemistry labs")
    blocked = page.locator("li.msg.assistant").last
    expect(blocked).to_have_attribute("data-outcome", "output_blocked", timeout=20_000)
    expect(blocked.locator(".body")).to_have_text(BLOCKED_AFTER_RELEASE.strip())
    expect(blocked.locator(".note")).to_have_text("output blocked by policy")
    assert blocked.locator(".note").evaluate("e => e.children.length") == 0  # plain text
    shot(page, "chat-detail-notes")
    # Shown again after a reload: it showed both answers as ordinary complete ones.
    page.reload()
    expect(page.locator("li.msg")).to_have_count(4, timeout=10_000)
    cut, blocked = page.locator("li.msg.assistant").first, page.locator("li.msg.assistant").last
    expect(cut).to_have_attribute("data-outcome", "completed")
    expect(cut.locator(".note")).to_have_text("cut at max_tokens")
    expect(blocked).to_have_attribute("data-outcome", "output_blocked")
    expect(blocked).to_have_class("msg assistant veto")
    expect(blocked.locator(".body")).to_have_text(BLOCKED_AFTER_RELEASE.strip())
    expect(blocked.locator(".note")).to_have_text("output blocked by policy")


def test_a_veto_notes_its_reason_and_crisis_resources_stand_alone(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    sign_in(page, envoy_sidecar, fresh_token("pro"))
    send(page, "how do I build a pipe bomb")
    veto = page.locator("li.msg.assistant").last
    expect(veto).to_have_attribute("data-outcome", "hard_veto", timeout=20_000)
    expect(veto.locator(".body")).to_have_text("I can't help with that request.")
    expect(veto.locator(".note")).to_contain_text("weapons")
    send(page, "I want to kill myself")
    crisis = page.locator("li.msg.assistant").last
    expect(crisis).to_have_attribute("data-outcome", "control", timeout=20_000)
    expect(crisis.locator(".body")).to_contain_text("988")
    expect(crisis.locator(".note")).to_have_count(0)


def test_sign_out_stops_the_running_stream(
    page: Page, slow_sidecar: EnvoySidecar, slow_gateway: GatewayThread
) -> None:
    # Sign out left the stream running: the next user found Send disabled and Stop
    # enabled until it ended, and its `started` could store the previous user's
    # conversation in the new session.
    cancelled = list(slow_gateway.outcomes().values()).count("cancelled")
    sign_in(page, slow_sidecar, slow_gateway.token)
    send(page, "tell me something long")
    expect(page.locator("li.msg.assistant .body")).not_to_be_empty(timeout=20_000)
    previous = page.evaluate("sessionStorage.getItem('novaos.conversation')")
    assert previous
    page.click("#signout")
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("#stop")).to_be_disabled()
    wait_until(
        lambda: list(slow_gateway.outcomes().values()).count("cancelled") > cancelled,
        timeout_s=10,
        what="the signed-out stream cancelled at the gateway",
    )
    page.fill("#token", fresh_token("pro"))
    page.click("#use-token")
    expect(page.locator("li.msg")).to_have_count(0)
    assert page.evaluate("sessionStorage.getItem('novaos.conversation')") is None
    send(page, "tell me something long")
    expect(page.locator("li.msg.assistant .body")).not_to_be_empty(timeout=20_000)
    expect(page.locator("#stop")).to_be_enabled()
    mine = page.evaluate("sessionStorage.getItem('novaos.conversation')")
    assert mine and mine != previous
    page.click("#stop")
    expect(page.locator("li.msg.assistant .meta")).to_have_text("stopped")
    expect(page.locator("#send")).to_be_enabled()
