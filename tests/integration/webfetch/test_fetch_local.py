"""The fetcher against loopback servers (WEB_FETCH_ALLOW_LOCALHOST=true).

Public addresses cannot be reached here, so these tests loosen loopback only
and aim the fetcher at scripted local servers: size cap, slow servers,
redirects, content types, extraction.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import threading
import zlib
from typing import Any

import pytest

from novaos.pipeline.gates.lens import LensGate
from novaos.webfetch import fetcher as fetcher_module
from novaos.webfetch.extract import Extract, read_page
from novaos.webfetch.markup import MAX_TAGS
from tests.fixtures.common import await_until, holds
from tests.fixtures.dns_stub import StubZone
from tests.fixtures.gate_fakes import gate_input
from tests.fixtures.http_stub import StubHttpServer, drip, head, redirect, respond, stall_after
from tests.fixtures.sockets import ConnectLog
from tests.integration.webfetch.conftest import CountingObserver, MakeFetcher, local_env

PAGE = b"""<!doctype html><html><head><title>Rates  today</title>
<style>body { color: red }</style><script>var secret = "do not read";</script></head>
<body><nav>Home | About | Login</nav><header>Site banner</header>
<main><h1>Central bank</h1><p>The rate is <b>4.5%</b> as of  Monday.</p>
<!-- a comment that is not text --><noscript>enable js</noscript></main>
<footer>Copyright</footer></body></html>"""


async def test_html_page_yields_its_readable_text(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher, observer: CountingObserver
) -> None:
    http_stub.routes["/rates"] = respond(200, PAGE, "text/html; charset=utf-8")
    result = await make_fetcher(**local_env(http_stub.port)).fetch(
        f"http://127.0.0.1:{http_stub.port}/rates#frag"
    )
    assert (result.result, result.content_type) == ("ok", "text/html")
    assert result.text == "Rates today Central bank The rate is 4.5% as of Monday."
    assert http_stub.requests[0].path == "/rates"  # the fragment stays on the client
    assert observer.results == {"ok": 1}


async def test_name_is_resolved_once_and_sent_as_host(
    http_stub: StubHttpServer,
    make_fetcher: MakeFetcher,
    dns_stub: StubZone,
    connect_log: ConnectLog,
) -> None:
    dns_stub.set("news.example", ["127.0.0.1"])
    http_stub.routes["/"] = respond(200, b"fresh news")
    result = await make_fetcher(**local_env(http_stub.port)).fetch(
        f"http://News.Example.:{http_stub.port}/"
    )
    assert (result.result, result.text) == ("ok", "fresh news")
    assert http_stub.requests[0].headers["host"] == f"news.example:{http_stub.port}"
    assert dns_stub.queries[("news.example", "A")] == 1
    assert connect_log.addresses == [("127.0.0.1", http_stub.port)]


async def test_json_and_plus_json_and_plain_text_are_allowed(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher
) -> None:
    body = json.dumps({"price": 101.5, "symbol": "NOVA"}).encode()
    http_stub.routes["/a"] = respond(200, body, "application/json")
    http_stub.routes["/b"] = respond(200, body, "application/problem+json")
    http_stub.routes["/c"] = respond(
        200, "naïve café".encode("latin-1"), "text/plain; charset=ISO-8859-1"
    )
    fetcher = make_fetcher(**local_env(http_stub.port))
    base = f"http://127.0.0.1:{http_stub.port}"
    a, b, c = [await fetcher.fetch(f"{base}/{p}") for p in "abc"]
    assert (a.result, a.content_type, json.loads(a.text)) == (
        "ok",
        "application/json",
        {"price": 101.5, "symbol": "NOVA"},
    )
    assert (b.result, b.content_type) == ("ok", "application/problem+json")
    assert (c.result, c.text) == ("ok", "naïve café")


async def test_other_content_types_are_refused(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher
) -> None:
    http_stub.routes["/png"] = respond(200, b"\x89PNG....", "image/png")
    http_stub.routes["/bin"] = respond(200, b"\x00\x01", "application/octet-stream")
    http_stub.routes["/none"] = respond(200, b"who knows", "")
    http_stub.routes["/js"] = respond(200, b"alert(1)", "application/javascript")
    fetcher = make_fetcher(**local_env(http_stub.port))
    for path in ("/png", "/bin", "/none", "/js"):
        result = await fetcher.fetch(f"http://127.0.0.1:{http_stub.port}{path}")
        assert (result.result, result.reason, result.text) == ("blocked", "content_type", ""), path


async def test_size_cap_by_declared_length_and_by_streamed_bytes(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher, observer: CountingObserver
) -> None:
    cap = 4096
    http_stub.routes["/declared"] = stall_after(
        head(200, {"content-type": "text/plain", "content-length": "50000000"})
    )
    chunked = head(200, {"content-type": "text/plain", "transfer-encoding": "chunked"})
    chunk = b"a" * 1000
    http_stub.routes["/chunked"] = stall_after(
        chunked + b"".join(b"3e8\r\n" + chunk + b"\r\n" for _ in range(5))
    )
    http_stub.routes["/exact"] = respond(200, b"b" * cap)
    fetcher = make_fetcher(
        WEB_FETCH_MAX_BYTES=str(cap),
        WEB_FETCH_MAX_EXTRACT_CHARS="10000",
        **local_env(http_stub.port),
    )
    base = f"http://127.0.0.1:{http_stub.port}"
    declared = await fetcher.fetch(f"{base}/declared")
    streamed = await fetcher.fetch(f"{base}/chunked")
    exact = await fetcher.fetch(f"{base}/exact")
    assert (declared.result, declared.reason) == ("too_large", "max_bytes")
    assert (streamed.result, streamed.reason) == ("too_large", "max_bytes")
    assert (exact.result, len(exact.text)) == ("ok", cap)
    assert observer.results == {"too_large": 2, "ok": 1}


async def test_compressed_bodies_are_capped_after_decoding(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher
) -> None:
    bomb = gzip.compress(b"\x00" * 20_000_000)  # ~20 KB on the wire, 20 MB decoded
    http_stub.routes["/bomb"] = respond(200, bomb, "text/plain", content_encoding="gzip")
    http_stub.routes["/gz"] = respond(
        200, gzip.compress(b"small and fine"), "text/plain", content_encoding="gzip"
    )
    http_stub.routes["/deflate"] = respond(
        200, zlib.compress(b"deflated text"), "text/plain", content_encoding="deflate"
    )
    http_stub.routes["/br"] = respond(200, b"\x1b\x00", "text/plain", content_encoding="br")
    fetcher = make_fetcher(WEB_FETCH_MAX_BYTES="65536", **local_env(http_stub.port))
    base = f"http://127.0.0.1:{http_stub.port}"
    assert len(bomb) < 65536
    bombed = await fetcher.fetch(f"{base}/bomb")
    assert (bombed.result, bombed.reason) == ("too_large", "max_bytes")
    assert (await fetcher.fetch(f"{base}/gz")).text == "small and fine"
    assert (await fetcher.fetch(f"{base}/deflate")).text == "deflated text"
    brotli = await fetcher.fetch(f"{base}/br")
    assert (brotli.result, brotli.reason) == ("error", "content_encoding")


async def test_server_that_stops_sending_hits_the_read_timeout(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher, observer: CountingObserver
) -> None:
    http_stub.routes["/no-headers"] = stall_after(b"")
    http_stub.routes["/no-body"] = stall_after(
        head(200, {"content-type": "text/plain", "content-length": "100"}) + b"half"
    )
    fetcher = make_fetcher(
        WEB_FETCH_READ_TIMEOUT_MS="200",
        WEB_FETCH_TOTAL_TIMEOUT_MS="10000",
        **local_env(http_stub.port),
    )
    for path in ("/no-headers", "/no-body"):
        result = await fetcher.fetch(f"http://127.0.0.1:{http_stub.port}{path}")
        assert (result.result, result.reason) == ("timeout", "read_timeout"), path
    assert observer.results == {"timeout": 2}


async def test_slow_loris_drip_hits_the_total_timeout(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher
) -> None:
    # Each byte arrives well inside the read timeout; only the total deadline ends it.
    http_stub.routes["/drip"] = drip(interval_s=0.02)
    fetcher = make_fetcher(
        WEB_FETCH_CONNECT_TIMEOUT_MS="400",
        WEB_FETCH_READ_TIMEOUT_MS="2000",
        WEB_FETCH_TOTAL_TIMEOUT_MS="400",
        **local_env(http_stub.port),
    )
    result = await fetcher.fetch(f"http://127.0.0.1:{http_stub.port}/drip")
    assert (result.result, result.reason) == ("timeout", "total_timeout")


async def test_five_redirects_are_followed_and_the_sixth_is_refused(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher
) -> None:
    for hop in range(6):  # /r0 -> /r1 -> ... -> /r5 -> /end; relative and absolute forms
        nxt = f"/r{hop + 1}" if hop < 5 else "/end"
        http_stub.routes[f"/r{hop}"] = redirect(
            nxt if hop % 2 else f"http://127.0.0.1:{http_stub.port}{nxt}", 301 + hop % 3
        )
    http_stub.routes["/end"] = respond(200, b"arrived")
    fetcher = make_fetcher(**local_env(http_stub.port))
    base = f"http://127.0.0.1:{http_stub.port}"
    five = await fetcher.fetch(f"{base}/r1")
    assert (five.result, five.text) == ("ok", "arrived")
    http_stub.requests.clear()
    six = await fetcher.fetch(f"{base}/r0")
    assert (six.result, six.reason) == ("error", "too_many_redirects")
    assert [r.path for r in http_stub.requests] == ["/r0", "/r1", "/r2", "/r3", "/r4", "/r5"]


async def test_redirect_to_a_refused_target_is_blocked_at_that_hop(
    http_stub: StubHttpServer,
    make_fetcher: MakeFetcher,
    dns_stub: StubZone,
    connect_log: ConnectLog,
) -> None:
    dns_stub.set("internal-db.example", ["10.0.0.5"])
    targets = {
        "/to-metadata": ("http://169.254.169.254/latest/meta-data/", "metadata"),
        "/to-private-name": ("http://internal-db.example/", "private"),
        "/to-mapped": (f"http://[::ffff:127.0.0.1]:{http_stub.port}/", "ipv4_mapped"),
        "/to-decimal": ("http://167772161/", "private"),  # 10.0.0.1
        "/to-file": ("file:///etc/passwd", "scheme_not_allowed"),
        "/to-userinfo": (f"http://x@127.0.0.1:{http_stub.port}/", "userinfo"),
        "/to-port": ("http://127.0.0.1:6379/", "port_not_allowed"),
    }
    for path, (location, _) in targets.items():
        http_stub.routes[path] = redirect(location, 307)
    fetcher = make_fetcher(**local_env(http_stub.port))
    for path, (_, reason) in targets.items():
        connect_log.reset()
        result = await fetcher.fetch(f"http://127.0.0.1:{http_stub.port}{path}")
        assert (result.result, result.reason) == ("blocked", reason), path
        assert connect_log.addresses == [("127.0.0.1", http_stub.port)], path  # only the first hop


async def test_error_statuses_and_refused_connections_are_errors(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher, observer: CountingObserver
) -> None:
    http_stub.routes["/gone"] = respond(410, b"gone")
    http_stub.routes["/loc-less"] = respond(302, b"")
    closed = StubHttpServer()
    await closed.start()
    closed_port = closed.port
    await closed.stop()  # nothing listens there any more
    fetcher = make_fetcher(
        WEB_FETCH_ALLOWED_PORTS=f"{http_stub.port},{closed_port}", WEB_FETCH_ALLOW_LOCALHOST="true"
    )
    gone = await fetcher.fetch(f"http://127.0.0.1:{http_stub.port}/gone")
    missing = await fetcher.fetch(f"http://127.0.0.1:{http_stub.port}/nothing-here")
    loc_less = await fetcher.fetch(f"http://127.0.0.1:{http_stub.port}/loc-less")
    refused = await fetcher.fetch(f"http://127.0.0.1:{closed_port}/")
    assert [(r.result, r.reason) for r in (gone, missing, loc_less, refused)] == [
        ("error", "http_410"),
        ("error", "http_404"),
        ("error", "redirect_without_location"),
        ("error", "connect_failed"),
    ]
    assert observer.results == {"error": 4}


async def test_extract_is_bounded(http_stub: StubHttpServer, make_fetcher: MakeFetcher) -> None:
    words = " ".join(f"word{i}" for i in range(5000)).encode()
    http_stub.routes["/long"] = respond(200, b"<p>" + words + b"</p>", "text/html")
    fetcher = make_fetcher(WEB_FETCH_MAX_EXTRACT_CHARS="500", **local_env(http_stub.port))
    result = await fetcher.fetch(f"http://127.0.0.1:{http_stub.port}/long")
    assert result.result == "ok"
    assert (
        len(result.text) <= 500
        and result.text.startswith("word0 word1 ")
        and result.text.endswith("…")
    )


async def test_concurrent_fetches_share_one_fetcher(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher
) -> None:
    import asyncio

    for i in range(5):
        http_stub.routes[f"/p{i}"] = respond(200, f"page {i}".encode())
    fetcher = make_fetcher(**local_env(http_stub.port))
    results = await asyncio.gather(
        *(fetcher.fetch(f"http://127.0.0.1:{http_stub.port}/p{i}") for i in range(5))
    )
    assert [r.text for r in results] == [f"page {i}" for i in range(5)]


async def test_hostile_nesting_is_cut_and_says_so(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher
) -> None:
    # The tester's page: <ul><li> nested 60,000 deep took minutes to parse.
    http_stub.routes["/ulli"] = respond(200, b"<p>Top.</p>" + b"<ul><li>x" * 60_000, "text/html")
    result = await make_fetcher(**local_env(http_stub.port)).fetch(
        f"http://127.0.0.1:{http_stub.port}/ulli"
    )
    assert (result.result, result.reason) == ("ok", "markup_cut")
    assert result.text.startswith("Top. x x") and result.text.endswith("…")
    assert result.text.count("x") < MAX_TAGS


async def test_the_lens_says_why_a_fetched_page_gave_the_model_nothing(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher
) -> None:
    # A frameset, or a page cut at the markup bounds before any text, is "ok"
    # with an empty extract; the lens said only "fetched" and then degraded.
    http_stub.routes["/frames"] = respond(200, b"<frameset><frame src=/a></frameset>", "text/html")
    http_stub.routes["/nest"] = respond(200, b"<ul><li>" * 60_000, "text/html")
    http_stub.routes["/cut"] = respond(200, b"<p>Top.</p>" + b"<ul><li>x" * 30_000, "text/html")
    base = f"http://127.0.0.1:{http_stub.port}"
    gate = LensGate(make_fetcher(**local_env(http_stub.port)))
    degraded = await gate.check(gate_input(f"What is the latest on {base}/frames {base}/nest ?"))
    assert degraded.reason.endswith(
        f"degraded: fetched (no text) {base}/frames; fetched (markup_cut, no text) {base}/nest"
    )
    cut = await gate.check(gate_input(f"What is the latest on {base}/cut ?"))
    assert cut.reason == f"fetched (markup_cut) {base}/cut"


async def test_pages_are_parsed_off_the_event_loop(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_stub.routes["/p"] = respond(200, b"<p>parsed</p>", "text/html")
    started, release = threading.Event(), threading.Event()
    threads: list[int] = []

    def parse(*args: Any, **kwargs: Any) -> Extract:
        threads.append(threading.get_ident())
        started.set()
        release.wait(timeout=2)  # on the loop thread this would freeze the loop
        return read_page(*args, **kwargs)

    monkeypatch.setattr(fetcher_module, "read_page", parse)
    fetch = asyncio.create_task(
        make_fetcher(**local_env(http_stub.port)).fetch(f"http://127.0.0.1:{http_stub.port}/p")
    )
    # The loop keeps running while the page is parsed.
    await await_until(lambda: holds(started.is_set()), timeout_s=5, what="parse started")
    assert not release.is_set() and not fetch.done()
    release.set()
    result = await fetch
    assert (result.result, result.text) == ("ok", "parsed")
    assert threads and threads[0] != threading.get_ident()


async def test_a_fetch_its_caller_cancels_is_still_counted_once(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher, observer: CountingObserver
) -> None:
    # The lens cancels fetches still running at its deadline; they never reached
    # the end of fetch(), so web_fetch_total{result="timeout"} missed them.
    http_stub.routes["/stall"] = stall_after(b"")
    fetcher = make_fetcher(WEB_FETCH_READ_TIMEOUT_MS="10000", **local_env(http_stub.port))
    fetch = asyncio.create_task(fetcher.fetch(f"http://127.0.0.1:{http_stub.port}/stall"))
    await await_until(lambda: holds(bool(http_stub.requests)), timeout_s=5, what="request")
    fetch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await fetch
    assert observer.results == {"timeout": 1}


async def test_redirects_to_unparseable_locations_are_refused_quietly(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    # httpx parsed Location itself (even with follow_redirects off) and urljoin
    # raised on "http://[": both surfaced as "internal" with an ERROR traceback.
    targets = {
        "/js": ("javascript:alert(1)", "scheme_not_allowed"),
        "/data": ("data:text/html,hi", "scheme_not_allowed"),
        "/bracket": ("http://[", "invalid_url"),
        "/half-v6": ("http://[::1", "invalid_url"),
        "/relative-bracket": ("//[", "invalid_url"),
        # urljoin drops tabs unseen: "/pl\tain" was followed as "/plain"
        "/tab": ("/pl\tain", "invalid_url"),
        "/tab-absolute": (f"http://127.0.0.1:{http_stub.port}/pl\tain", "invalid_url"),
        "/space": ("/pl ain", "invalid_url"),
        "/backslash": ("/pl\\ain", "invalid_url"),
    }
    http_stub.routes["/plain"] = respond(200, b"followed")
    for path, (location, _) in targets.items():
        http_stub.routes[path] = redirect(location)
    fetcher = make_fetcher(**local_env(http_stub.port))
    caplog.set_level(logging.DEBUG)
    for path, (_, reason) in targets.items():
        result = await fetcher.fetch(f"http://127.0.0.1:{http_stub.port}{path}")
        assert (result.result, result.reason) == ("blocked", reason), path
    assert "/plain" not in [r.path for r in http_stub.requests]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
