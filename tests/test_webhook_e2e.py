"""Webhook mode: the fake Bot API posts updates to the bot's webhook over loopback, with the
secret header; several processes can share one database."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from conftest import TEST_KEY, BotHarness, FakeClock, rows_of
from fakebot import FakeBotAPI

from bot.config import Config
from storage.models import ThoughtRecord

ANA = 6001
SECRET = "s3cret-token-for-tests_0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def webhook_config(fake: FakeBotAPI, db_url: str, port: int) -> Config:
    return Config.model_validate(
        {
            "telegram": {
                "mode": "webhook",
                "token": FakeBotAPI.TOKEN,
                "base_url": fake.base_url,
                "base_file_url": fake.base_file_url,
                "webhook": {
                    "listen": "127.0.0.1",
                    "port": port,
                    "path": "/hook",
                    "public_url": f"http://127.0.0.1:{port}",
                    "secret_token": SECRET,
                    "max_connections": 12,
                },
            },
            "database": {"url": db_url},
            "nudges": {"tick_seconds": 0.05},
            "security": {"data_key": TEST_KEY},
        }
    )


class WebhookBot(BotHarness):
    """The harness, started in webhook mode: ready once Telegram has its webhook address."""

    async def start(self) -> None:
        before = sum(1 for m, _ in self.fake.calls if m == "setWebhook")
        started: asyncio.Future = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        from bot.runner import serve

        self._task = asyncio.create_task(serve(self.config, self._stop, self.clock, started))
        await asyncio.wait({self._task, started}, timeout=20, return_when="FIRST_COMPLETED")
        if self._task.done():
            await self._task
        self.dispatcher = started.result()
        await self.fake.wait_until(
            lambda: sum(1 for m, _ in self.fake.calls if m == "setWebhook") > before
        )


@pytest.fixture
async def hooked(fake: FakeBotAPI, db_url: str, clock: FakeClock) -> AsyncIterator[WebhookBot]:
    harness = WebhookBot(fake, webhook_config(fake, db_url, free_port()), clock)
    await harness.start()
    yield harness
    await harness.stop()


RECORD = [
    ("/thought", "Step 1 of 9"),
    ("A situation", "Step 2 of 9"),
    ("sad 70", "Step 3 of 9"),
    ("A hot thought", "Step 4 of 9"),
    ("For", "Step 5 of 9"),
    ("Against", "Step 6 of 9"),
    ("skip", "Step 7 of 9"),
    ("Balanced", "How much do you believe"),
    ("skip", "Sad"),
    ("30", "Saved"),
]


async def test_a_whole_record_arrives_through_the_webhook(hooked: WebhookBot, db_url: str):
    assert hooked.fake.webhook_url.endswith("/hook") and hooked.fake.webhook_secret == SECRET
    assert hooked.fake.webhook_max_connections == 12  # as configured
    for typed, expect in RECORD:
        await hooked.say(ANA, typed, expect=expect)
    [record] = await rows_of(db_url, ThoughtRecord, ANA)
    assert record.hot_thought == "A hot thought"
    # Each update is acknowledged (200) after its replies went out: the last may trail them.
    await hooked.fake.wait_until(lambda: hooked.fake.webhook_deliveries >= len(RECORD))
    assert hooked.fake.webhook_deliveries == len(RECORD)
    assert not any(m == "getUpdates" for m, _ in hooked.fake.calls)  # no polling at all


def raw_update(update_id: int, text: str) -> dict:
    """A message from Ana as Telegram posts it, for tests that post to the webhook themselves."""
    message = {
        "message_id": update_id,
        "date": 0,
        "chat": {"id": ANA, "type": "private"},
        "from": {"id": ANA, "is_bot": False, "first_name": "Ana"},
        "text": text,
    }
    return {"update_id": update_id, "message": message}


def hook_url(bot: WebhookBot) -> str:
    hook = bot.config.telegram.webhook
    return f"http://127.0.0.1:{hook.port}{hook.path}"


async def test_an_update_delivered_twice_is_applied_once(hooked: WebhookBot, db_url: str):
    """Telegram delivers an update again when it never saw its 200 (the process died after
    saving the answer, say). The answer must not land in the next question's place too."""
    for typed, expect in RECORD[:3]:
        await hooked.say(ANA, typed, expect=expect)  # now at step 3: the hot thought
    update = raw_update(90_001, "It's all my fault")
    before = len(hooked.fake.messages(ANA))
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            async with http.post(
                hook_url(hooked), data=json.dumps(update), headers=headers
            ) as reply:
                assert reply.status == 200  # answered: Telegram stops sending it
    first, second = [m.text or "" for m in hooked.fake.messages(ANA)[before:]]
    assert first.startswith("Step 4 of 9")
    assert second.startswith("I have that one saved already") and "Step 4 of 9" in second
    for typed, expect in RECORD[4:]:
        await hooked.say(ANA, typed, expect=expect)
    [record] = await rows_of(db_url, ThoughtRecord, ANA)
    assert (record.hot_thought, record.evidence_for) == ("It's all my fault", "For")


async def test_requests_without_the_secret_are_refused(hooked: WebhookBot, db_url: str):
    hook = hooked.config.telegram.webhook
    update, url = raw_update(999, "/thought"), hook_url(hooked)
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            async with http.post(url, data=json.dumps(update), headers=headers) as reply:
                assert reply.status == 403
        async with http.get(f"http://127.0.0.1:{hook.port}/healthz") as reply:
            assert reply.status == 200
            assert await reply.json() == {"status": "ok", "database": "ok"}
    assert hooked.fake.messages(ANA) == []  # nothing answered, nothing stored
    assert await rows_of(db_url, ThoughtRecord) == []


async def test_a_record_started_on_one_process_continues_on_another(
    hooked: WebhookBot, fake: FakeBotAPI, db_url: str, clock: FakeClock
):
    for typed, expect in RECORD[:4]:
        await hooked.say(ANA, typed, expect=expect)
    # A second process on the same database takes over the webhook (as a load balancer would
    # send the next request elsewhere); the conversation lives in the database, not in memory.
    second = WebhookBot(fake, webhook_config(fake, db_url, free_port()), clock)
    await second.start()
    try:
        for typed, expect in RECORD[4:]:
            await second.say(ANA, typed, expect=expect)
    finally:
        await second.stop()
    [record] = await rows_of(db_url, ThoughtRecord, ANA)
    assert (record.situation, record.evidence_for) == ("A situation", "For")
