"""An httpx transport that dials only addresses that were already checked.

httpx hands the URL's host to its network backend, which would resolve it
again; a second lookup is exactly what DNS rebinding needs. ``PinnedBackend``
takes the place of that backend and connects to the checked addresses,
while the URL keeps the original name, so the Host header, TLS SNI and the
certificate check all still use it.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from ipaddress import ip_address

import httpcore
import httpx

LOCATION = "novaos_location"  # response extension: the raw Location header, or None

_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise _translate(exc) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        raise _translate(exc) from exc


def _translate(exc: Exception) -> httpx.TransportError:
    for core, mapped in _ERRORS:
        if isinstance(exc, core):
            return mapped(str(exc))
    return httpx.TransportError(str(exc))


def _same_host(left: str, right: str) -> bool:
    try:
        return ip_address(left) == ip_address(right)
    except ValueError:
        return left.lower() == right.lower()


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to ``addresses`` (in order, the next when one refuses or times out)
    whenever ``host`` is asked for."""

    def __init__(
        self,
        host: str,
        addresses: Sequence[str],
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._host = host
        self._addresses = tuple(addresses)
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if not _same_host(host, self._host):
            raise httpcore.ConnectError(f"host {host!r} was not checked")
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in self._addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                # Refused or silent (a blackholed route): try the next checked
                # address; the fetch's total timeout still bounds the whole.
                if not isinstance(failure, httpcore.ConnectTimeout):
                    failure = exc  # a timeout, once seen, is what is reported
        raise failure or httpcore.ConnectError("no checked address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterator[bytes] | object) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert hasattr(self._stream, "__aiter__")
        with _httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class PinnedTransport(httpx.AsyncBaseTransport):
    """One-connection HTTP/1.1 transport bound to checked addresses of one host."""

    def __init__(self, *, host: str, addresses: Sequence[str], ssl_context: ssl.SSLContext) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=1,
            max_keepalive_connections=0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=PinnedBackend(host, addresses),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = await self._pool.handle_async_request(core_request)
        # httpx parses a redirect's Location itself (even with follow_redirects
        # off) and fails on ones it cannot read ("javascript:x", "http://[");
        # the fetcher reads it instead, through the URL policy.
        headers = [(k, v) for k, v in response.headers if k.lower() != b"location"]
        location = next((v for k, v in response.headers if k.lower() == b"location"), None)
        return httpx.Response(
            status_code=response.status,
            headers=headers,
            stream=_ResponseStream(response.stream),
            extensions={**response.extensions, LOCATION: location},
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
