"""Headless Chromium (Debian's package) driven by Playwright; never `playwright install`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.fixtures.common import free_port
from tests.fixtures.envoy import EnvoySidecar, Upstream, run_sidecar, sidecar_for
from tests.fixtures.gateway_thread import GatewayThread
from tests.fixtures.redis_server import RedisServer

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API keeps an event loop running in this
    # thread while it lives, which would break every later asyncio.run().
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # The sidecar's dev certificate is self-signed; TLS itself is tested elsewhere.
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1100, "height": 760})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield page
    finally:
        context.close()
    # CSP violations and script errors show up here; expected HTTP errors, and the
    # refused connection of a test that stops Envoy, are filtered.
    expected = ("status of 4", "status of 5", "net::ERR_CONNECTION_REFUSED")
    unexpected = [e for e in errors if not any(x in e for x in expected)]
    assert not unexpected, unexpected


@pytest.fixture(scope="session")
def slow_gateway() -> Iterator[GatewayThread]:
    """A long answer (200 tokens x 40 ms) so Stop lands mid-stream."""
    with GatewayThread(MOCK_TOKEN_DELAY_MS="40", MOCK_RESPONSE_TOKENS="200") as gateway:
        yield gateway


@pytest.fixture(scope="session")
def slow_sidecar(
    slow_gateway: GatewayThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnvoySidecar]:
    yield from sidecar_for(slow_gateway, tmp_path_factory.mktemp("envoy-slow"))


@pytest.fixture(scope="session")
def hesitant_gateway() -> Iterator[GatewayThread]:
    """Seconds between words: an answer's first sentence is a long way off after its
    gates, so Stop lands before any text."""
    with GatewayThread(MOCK_TOKEN_DELAY_MS="3000", MOCK_RESPONSE_TOKENS="20") as gateway:
        yield gateway


@pytest.fixture(scope="session")
def hesitant_sidecar(
    hesitant_gateway: GatewayThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnvoySidecar]:
    yield from sidecar_for(hesitant_gateway, tmp_path_factory.mktemp("envoy-hesitant"))


# Scripted answers (MOCK_SCRIPT_FILE); an unscripted one runs past max_tokens.
BLOCKED_AFTER_RELEASE = "Chemistry labs are fun. Safety glasses matter. "
# Arabic first (an RTL answer), then a right-to-left override a page would obey.
RTL_ANSWER = "\u0645\u0631\u062d\u0628\u0627 \u0628\u0643. File: \u202eevil.exe\u202c done."
SCRIPT = {
    "chemistry labs": BLOCKED_AFTER_RELEASE
    + "Now to build a pipe bomb, pack the pipe with explosive powder and add a fuse. Done.",
    "which file": RTL_ANSWER,
}


@pytest.fixture(scope="session")
def scripted_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    """Answers cut at 40 tokens (DEFAULT_MAX_TOKENS) and scripted ones (SCRIPT)."""
    script = tmp_path_factory.mktemp("script") / "script.json"
    script.write_text(json.dumps(SCRIPT), encoding="utf-8")
    env = {"MOCK_SCRIPT_FILE": str(script), "DEFAULT_MAX_TOKENS": "40"}
    with GatewayThread(**env, MOCK_TOKEN_DELAY_MS="5", MOCK_RESPONSE_TOKENS="120") as gateway:
        yield gateway


@pytest.fixture(scope="session")
def scripted_sidecar(
    scripted_gateway: GatewayThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnvoySidecar]:
    yield from sidecar_for(scripted_gateway, tmp_path_factory.mktemp("envoy-scripted"))


@pytest.fixture(scope="session")
def unavailable_gateway() -> Iterator[GatewayThread]:
    """Its only provider refuses connections: the first request finds it down and
    opens its breaker (one failure), the next ones find the circuit open."""
    env = {
        "PREFERRED_PROVIDER": "openai_compat",
        "PROVIDER_FALLBACK_ORDER": "openai_compat",
        "OPENAI_COMPAT_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "OPENAI_COMPAT_MODEL": "m1",
        "CIRCUIT_FAILURE_THRESHOLD": "1",
        "CIRCUIT_RESET_TIMEOUT_MS": "600000",
    }
    with GatewayThread(**env) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def unavailable_sidecar(
    unavailable_gateway: GatewayThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnvoySidecar]:
    yield from sidecar_for(unavailable_gateway, tmp_path_factory.mktemp("envoy-unavailable"))


class OutageGateway:
    """A gateway that can go away and come back on the same port (Envoy in front
    stays up and answers 503 meanwhile); conversations live in Redis, so the one
    that comes back knows them."""

    def __init__(self, redis_url: str) -> None:
        self.port = free_port()
        self.env = {"REDIS_URL": redis_url, "GRPC_PORT": str(self.port)}
        self.gateway: GatewayThread | None = None

    def up(self) -> None:
        self.gateway = GatewayThread(**self.env).__enter__()

    def down(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None


@pytest.fixture
def outage_gateway(redis_server: RedisServer) -> Iterator[OutageGateway]:
    outage = OutageGateway(redis_server.url)
    outage.up()
    try:
        yield outage
    finally:
        outage.down()


@pytest.fixture
def outage_sidecar(
    outage_gateway: OutageGateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnvoySidecar]:
    assert outage_gateway.gateway is not None
    upstream = Upstream("127.0.0.1", outage_gateway.port, outage_gateway.gateway.token)
    yield from run_sidecar(upstream, tmp_path_factory.mktemp("envoy-outage"))


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
