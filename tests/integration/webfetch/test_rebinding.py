"""DNS rebinding: a name that answers a safe address first and a bad one after.

The DNS stub is real DNS over UDP on loopback; the fetcher is the real one.
If anything resolved the name a second time for the connection, it would get
the bad answer and connect there; the stub's query count and the connect
audit hook show that it never does.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from tests.fixtures.dns_stub import StubZone
from tests.fixtures.http_stub import StubHttpServer, redirect, respond
from tests.fixtures.sockets import ConnectLog
from tests.integration.webfetch.conftest import MakeFetcher, local_env


async def test_connection_goes_to_the_checked_address_not_a_later_answer(
    http_stub: StubHttpServer,
    make_fetcher: MakeFetcher,
    dns_stub: StubZone,
    connect_log: ConnectLog,
) -> None:
    dns_stub.set("rebind.example", ["127.0.0.1"], ["169.254.169.254"])
    http_stub.routes["/"] = respond(200, b"served by the checked address")
    fetcher = make_fetcher(**local_env(http_stub.port))

    result = await fetcher.fetch(f"http://rebind.example:{http_stub.port}/")

    assert (result.result, result.text) == ("ok", "served by the checked address")
    assert dns_stub.queries[("rebind.example", "A")] == 1  # the second answer was never asked for
    assert connect_log.addresses == [("127.0.0.1", http_stub.port)]
    assert http_stub.requests[0].headers["host"] == f"rebind.example:{http_stub.port}"


async def test_public_first_answer_is_the_only_address_dialled(
    make_fetcher: MakeFetcher, dns_stub: StubZone, connect_log: ConnectLog
) -> None:
    # The audit hook refuses the (non-loopback) connect, so nothing leaves the
    # machine, but it records where the fetcher tried to go.
    dns_stub.set("public-then-private.example", ["93.184.215.14"], ["127.0.0.1"])
    fetcher = make_fetcher()

    result = await fetcher.fetch("http://public-then-private.example/")

    assert (result.result, result.reason) == ("error", "connect_failed")
    assert connect_log.addresses == [("93.184.215.14", 80)]
    assert dns_stub.queries[("public-then-private.example", "A")] == 1


async def test_each_redirect_hop_resolves_and_checks_again(
    http_stub: StubHttpServer,
    make_fetcher: MakeFetcher,
    dns_stub: StubZone,
    connect_log: ConnectLog,
) -> None:
    # Same host, second hop: the fresh answer is the metadata address, and it is refused.
    dns_stub.set("hop.example", ["127.0.0.1"], ["169.254.169.254"])
    http_stub.routes["/start"] = redirect("/next")
    http_stub.routes["/next"] = respond(200, b"must not be reached")
    fetcher = make_fetcher(**local_env(http_stub.port))

    result = await fetcher.fetch(f"http://hop.example:{http_stub.port}/start")

    assert (result.result, result.reason) == ("blocked", "metadata")
    assert dns_stub.queries[("hop.example", "A")] == 2
    assert [r.path for r in http_stub.requests] == ["/start"]
    assert connect_log.addresses == [("127.0.0.1", http_stub.port)]


async def test_an_address_that_does_not_answer_gives_way_to_the_next_checked_one(
    http_stub: StubHttpServer, make_fetcher: MakeFetcher, dns_stub: StubZone
) -> None:
    # A name with an unreachable first address (a blackholed IPv6 route, a dead
    # replica) and a working second one: a connect timeout on the first ended the
    # fetch, where a refused connect moved on to the next address.
    http_stub.routes["/"] = respond(200, b"served by the second address")
    with _silent_listener("127.0.0.2", http_stub.port):
        dns_stub.set("dual.example", ["127.0.0.2", "127.0.0.1"])
        fetcher = make_fetcher(**local_env(http_stub.port, WEB_FETCH_CONNECT_TIMEOUT_MS="300"))
        result = await fetcher.fetch(f"http://dual.example:{http_stub.port}/")
    assert (result.result, result.text) == ("ok", "served by the second address")


@contextmanager
def _silent_listener(host: str, port: int) -> Iterator[None]:
    """A port whose accept queue is full: the kernel drops new SYNs, so a connect
    to it hangs until the client's timeout, as to a blackholed address."""
    listener = socket.socket()
    listener.bind((host, port))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(4):  # the queue holds backlog + 1; the rest are left pending
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex((host, port))
            fillers.append(filler)
        yield
    finally:
        for sock in [*fillers, listener]:
            sock.close()
