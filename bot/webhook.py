"""Webhook mode: Telegram posts updates to us; /healthz answers the load balancer.

Each update is handled before the request is answered, so a 200 means its answers are stored
(and Telegram retries anything that got no 200). Requests without the secret header that
Telegram was given are refused before anything is read.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.config import WebhookConfig

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookServer:
    def __init__(
        self, app: Application, config: WebhookConfig, healthy: Callable[[], Awaitable[bool]]
    ) -> None:
        self.app = app
        self.config = config
        self.healthy = healthy
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        web_app = web.Application(client_max_size=1024 * 1024)
        web_app.router.add_post(self.config.path, self._receive)
        web_app.router.add_get("/healthz", self._health)
        self._runner = web.AppRunner(web_app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.listen, self.config.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("webhook listening on %s:%s%s", self.config.listen, self.port, self.config.path)

    async def stop(self) -> None:
        """Stops accepting; requests in flight finish first."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.config.secret_token.encode()):
            log.warning("refused a webhook request without the right secret")
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), self.app.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400)
        if update is None:
            return web.Response(status=400)
        # Through the update processor: one user's updates in order, the concurrency bound kept.
        await self.app.update_processor.process_update(update, self.app.process_update(update))
        return web.Response(status=200)

    async def _health(self, _request: web.Request) -> web.Response:
        ok = await self.healthy()
        body = {"status": "ok" if ok else "unhealthy", "database": "ok" if ok else "unreachable"}
        return web.json_response(body, status=200 if ok else 503)
