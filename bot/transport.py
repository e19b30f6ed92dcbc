"""python-telegram-bot's HTTP requests over aiohttp instead of its default httpx.

Why: on the same loopback server, a bare echo bot does 3.5-4 times the updates per second on
aiohttp (bench/throughput.py, both rows). httpx's pool scans every connection on
every request and goes through anyio's locks and cancel scopes each time; that machinery was
most of the CPU a send took, for the coach's replies and for nudge fan-outs alike. aiohttp
is already here for the webhook server.

What PTB needs from a transport is small (`BaseRequest`): send a request, return the status
and body, raise `TimedOut` / `NetworkError` for failures below HTTP. PTB itself turns HTTP
statuses into RetryAfter, Forbidden, BadRequest and so on, as with httpx. As with httpx, the
HTTPS_PROXY environment variable is honoured (an HTTP proxy; SOCKS is not supported).
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import certifi
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_JSON = {"Content-Type": "application/json"}


def _given(value: object, default: float | None) -> float | None:
    """A timeout PTB passed (seconds, or None for none), else our default: PTB marks "not
    given" with its own default-value objects."""
    if value is None or isinstance(value, int | float):
        return value
    return default


class AiohttpRequest(BaseRequest):
    """One aiohttp session with up to `pool_size` connections. Timeouts as PTB's defaults:
    5 s to connect, 5 s per read, 1 s to wait for a free connection; uploads get 20 s."""

    def __init__(
        self,
        pool_size: int = 256,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 5.0,
        pool_timeout: float = 1.0,
        media_write_timeout: float = 20.0,
    ) -> None:
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str] = {}
        self._direct: dict[str, bool] = {}  # host → NO_PROXY names it

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            tls = ssl.create_default_context(cafile=certifi.where())  # as httpx: certifi's CAs
            connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=tls)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets none; keep none
            )
            # HTTPS_PROXY / NO_PROXY, as PTB's httpx honours them: read once here. aiohttp's
            # own trust_env reads the whole environment again for every request (~0.1 ms).
            self._proxies, self._direct = getproxies(), {}

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        body: aiohttp.FormData | bytes | None = None
        headers = None
        uploading = request_data is not None and request_data.contains_files
        if uploading:
            body = _form(request_data)
        elif request_data is not None:
            # JSON, which the Bot API takes as it takes a form: field for field, each value as
            # PTB encoded it. Encoding a form quotes every byte of the text in Python.
            body, headers = request_data.json_payload, _JSON
        connect = _given(connect_timeout, self._connect_timeout)
        waiting = _given(pool_timeout, self._pool_timeout)
        read = _given(read_timeout, self._read_timeout)
        if uploading:  # sending the file counts against the read timeout: allow for it
            write = _given(write_timeout, self._media_write_timeout)
            read = None if read is None or write is None else read + write
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if connect is None or waiting is None else connect + waiting,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                proxy=self._proxy_for(url),
                allow_redirects=False,  # as httpx
            ) as reply:
                return reply.status, await reply.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    def _proxy_for(self, url: str) -> str | None:
        parts = urlsplit(url)
        proxy = self._proxies.get(parts.scheme)
        if proxy is None:
            return None
        host = parts.hostname or ""
        if host not in self._direct:  # NO_PROXY, asked once per host (the Bot API's)
            self._direct[host] = bool(proxy_bypass(host))
        return None if self._direct[host] else proxy


def _form(request_data: RequestData) -> aiohttp.FormData:
    """Multipart: the parameters as fields, the files as file parts (PTB's own split)."""
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form
