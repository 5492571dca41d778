"""An httpx transport on aiohttp's connection pool: the httpx API at a fraction of httpcore's CPU per request.

aiohttp's errors come out as the httpx errors httpx's own transport raises, so callers see no difference.
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx
import yarl

# httpx's own default: a kept-alive connection idle longer than this is closed by us, before a server with
# a short idle timeout (Node's is 5 s) closes it under a request.
KEEPALIVE_EXPIRY = 5.0
# aiohttp refuses a header line over 8 KiB; h11 (httpx's own parser) accepts far more. Keep httpx's reach.
MAX_HEADER_LINE = 64 * 1024


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session whose connector holds at most `limit` connections, opened on first use.

    Redirects, cookies, decompression and proxies stay httpx's business: aiohttp only moves bytes.
    """

    def __init__(
        self,
        *,
        limit: int,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._limit = limit
        self._keepalive_expiry = keepalive_expiry
        self._verify = verify
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Built inside the running loop (aiohttp binds a session to it), once per transport.
        if self._session is None:
            context = self._verify if isinstance(self._verify, ssl.SSLContext) else None
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                limit_per_host=0,
                keepalive_timeout=self._keepalive_expiry,
                # The same CA bundle (certifi) httpx's own transport verifies against.
                ssl=context or httpx.create_ssl_context(verify=self._verify),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # httpx keeps the client's cookies; a second jar here would replay them behind its back.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,  # httpx decodes the body by its Content-Encoding
                trust_env=False,  # httpx mounts its own transports for proxies from the environment
                timeout=aiohttp.ClientTimeout(total=None),
                max_line_size=MAX_HEADER_LINE,
                max_field_size=MAX_HEADER_LINE,
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        data: bytes | AsyncIterator[bytes] | None
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = _chunks(request.stream)
            request.headers.pop("transfer-encoding", None)  # aiohttp chunks a streamed body itself
        with map_errors(request):
            response = await self._get_session().request(
                request.method,
                # Already encoded by httpx: re-quoting it could change what the server is asked.
                yarl.URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=data,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=timeout.get("connect"), sock_read=timeout.get("read")
                ),
                server_hostname=request.extensions.get("sni_hostname"),
            )
        extensions: dict[str, object] = {
            "http_version": f"HTTP/{response.version.major}.{response.version.minor}".encode()
            if response.version is not None
            else b"HTTP/1.1"
        }
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_ResponseStream(response, request),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with map_errors(self._request):
            # Whatever has arrived, as it arrives: fewer wake-ups than fixed-size chunks.
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # Back to the pool when the body was read whole; closed when it was not (its rest is unread).
        self._response.release()


async def _chunks(stream: httpx.AsyncByteStream | httpx.SyncByteStream) -> AsyncIterator[bytes]:
    if isinstance(stream, httpx.AsyncByteStream):
        async for chunk in stream:
            yield chunk
    else:
        for chunk in stream:
            yield chunk


@contextmanager
def map_errors(request: httpx.Request) -> Iterator[None]:
    """aiohttp's exceptions as the httpx ones httpx's own transport raises for the same event."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
    except aiohttp.ServerTimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        # The OSError (ConnectionRefusedError for a refusal) stays in the cause chain for the caller.
        raise httpx.ConnectError(_connect_text(exc), request=request) from exc
    except aiohttp.ServerDisconnectedError as exc:
        text = "Server disconnected without sending a response."  # httpx's own words for it
        raise httpx.RemoteProtocolError(text, request=request) from exc
    except aiohttp.ClientPayloadError as exc:
        # A body cut short (the peer closed mid-response): what h11 calls an incomplete message.
        raise httpx.RemoteProtocolError(f"incomplete response body: {exc}", request=request) from exc
    except aiohttp.ClientResponseError as exc:
        # aiohttp's parser rejected the status line or headers.
        raise httpx.RemoteProtocolError(f"malformed response: {exc.message}", request=request) from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.UnsupportedProtocol(f"invalid URL: {exc}", request=request) from exc
    except (aiohttp.ClientOSError, ConnectionError) as exc:
        # Reset or broken while the request or answer was on the wire.
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
    except aiohttp.ClientError as exc:
        raise httpx.TransportError(f"{type(exc).__name__}: {exc}", request=request) from exc


def _connect_text(exc: aiohttp.ClientConnectorError) -> str:
    cause = exc.os_error
    if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
        return f"connection refused by {exc.host}:{exc.port}"
    return str(cause.strerror or cause) if cause is not None else str(exc)
