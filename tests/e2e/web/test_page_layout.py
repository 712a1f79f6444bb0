"""How the chat page lays out and shows text: a phone's width, right-to-left
scripts, and bidi controls in the model's answer."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.web.conftest import shot
from tests.fixtures.envoy import EnvoySidecar, Upstream


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
