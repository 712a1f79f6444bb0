"""How the chat page lays out and shows text: a phone's width, right-to-left
scripts, and bidi controls in the model's answer."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.web.conftest import RTL_ANSWER, shot
from tests.e2e.web.test_chat_page import send, sign_in
from tests.fixtures.envoy import EnvoySidecar, Upstream
from tests.fixtures.gateway_thread import GatewayThread

BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def test_the_sign_in_form_keeps_off_a_phone_screens_edges(
    page: Page, envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # At 375 px the label, the token box and the buttons touched both edges: the
    # form had no side padding (the chat view has its own).
    page.set_viewport_size({"width": 375, "height": 700})
    page.goto(envoy_sidecar.https_url + "/")
    expect(page.locator("#signin")).to_be_visible()
    for selector in ("label[for=token]", "#token", "#use-token"):
        box = page.locator(selector).bounding_box()
        assert box is not None
        assert box["x"] >= 12, (selector, box)
        assert box["x"] + box["width"] <= 375 - 12, (selector, box)
    assert page.evaluate("document.documentElement.scrollWidth") == 375
    shot(page, "signin-375")


def test_rtl_text_reads_right_to_left_and_bidi_overrides_are_dropped(
    page: Page, scripted_sidecar: EnvoySidecar, scripted_gateway: GatewayThread
) -> None:
    # Every body was laid out left to right (an Arabic answer's second line at the
    # left edge), and a model's U+202E showed "evil.exe" as "exe.live".
    sign_in(page, scripted_sidecar, scripted_gateway.token)
    question = "\u0623\u064a \u0645\u0644\u0641\u061f which file should I open?"
    send(page, question)
    answer = page.locator("li.msg.assistant").last
    expect(answer).to_have_attribute("data-outcome", "completed", timeout=20_000)
    _reads_as(page, question, "File: evil.exe done.")
    shot(page, "chat-rtl")
    page.reload()  # the stored turns are shown the same way
    expect(page.locator("li.msg")).to_have_count(2, timeout=10_000)
    _reads_as(page, question, "File: evil.exe done.")


def _reads_as(page: Page, question: str, tail: str) -> None:
    asked, answer = page.locator("li.msg.user .body"), page.locator("li.msg.assistant .body")
    expect(asked).to_have_text(question)
    assert RTL_ANSWER.startswith(answer.inner_text()[:5])
    text = answer.evaluate("e => e.textContent")
    assert text.endswith(tail), text
    assert not BIDI_CONTROLS.search(text), ascii(text)
    for body in (asked, answer):
        assert body.get_attribute("dir") == "auto"
        assert body.evaluate("e => getComputedStyle(e).direction") == "rtl"
