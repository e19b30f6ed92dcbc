"""Three real `coach run` processes in webhook mode, on one PostgreSQL database, behind a
round-robin load balancer, are one bot: each nudge goes out once, a thought record carries on
whichever process gets the next message, and each message is answered once."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from conftest import TEST_KEY, rows_of
from fakebot import FakeBotAPI
from sqlalchemy import insert

from storage.db import Database
from storage.models import Nudge, Schedule, ThoughtRecord, User

PROCESSES = 3
HOOK = "/hook"
SECRET = "s3cret-token-for-tests_0123456789"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
LISTENING = re.compile(r"webhook listening on [0-9.]+:(\d+)")
RUNNING = "is running (webhook)"


def require_postgres(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several processes share a PostgreSQL database, not a SQLite file")


@dataclass
class Route:
    update_id: int
    user: int
    backend: int
    status: int = 0  # the process's answer, once it has answered


class RoundRobin:
    """The load balancer in front of the processes, as nginx would be: each POST goes to the
    next process in turn, and that process's answer goes back to Telegram, so Telegram still
    retries whatever a process did not answer with 200."""

    def __init__(self) -> None:
        self.backends: list[str] = []  # set once the processes say where they listen
        self.routes: list[Route] = []
        self._turns = itertools.count()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        """Listens on a free loopback port; returns the public URL to give the processes."""
        app = web.Application()
        app.router.add_post(HOOK, self._forward)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._http = aiohttp.ClientSession()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        if not self.backends or self._http is None:
            return web.Response(status=503)
        body = await request.read()
        backend = next(self._turns) % len(self.backends)
        headers = {
            SECRET_HEADER: request.headers.get(SECRET_HEADER, ""),
            "Content-Type": request.content_type,
        }
        route = Route(*_who(body), backend)
        self.routes.append(route)  # now: the replies may reach the user before the 200 is back
        try:
            async with self._http.post(self.backends[backend], data=body, headers=headers) as r:
                route.status, answer = r.status, await r.read()
        except aiohttp.ClientError:
            route.status, answer = 502, b""
        return web.Response(status=route.status, body=answer)

    def backends_of(self, user: int) -> list[int]:
        """Which process got each of this user's updates, in order."""
        return [r.backend for r in self.routes if r.user == user]


def _who(body: bytes) -> tuple[int, int]:
    """(update_id, sender) of a raw update."""
    update = json.loads(body)
    event = update.get("message") or update.get("callback_query") or {}
    return update["update_id"], event.get("from", {}).get("id", 0)


@dataclass
class CoachProcess:
    """One `coach run` and what it logs; ready once it listens and Telegram has its URL."""

    process: asyncio.subprocess.Process
    logs: list[str] = field(default_factory=list)
    port: int = 0
    ready: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    async def read_logs(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.logs.append(line)
            if found := LISTENING.search(line):
                self.port = int(found.group(1))
            if RUNNING in line and not self.ready.done():
                self.ready.set_result(None)
        if not self.ready.done():  # it exited (or closed its log) before it was running
            self.ready.set_exception(AssertionError("coach run stopped:\n" + self.tail()))

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.logs[-lines:])

    def errors(self) -> list[str]:
        return [line for line in self.logs if " ERROR " in line or "Traceback" in line]


def config_file(path: Path, fake: FakeBotAPI, db_url: str, public_url: str) -> Path:
    """Port 0: each process takes a free port and logs it, so no two tests race for one."""
    path.write_text(
        f"""
telegram:
  mode: webhook
  token: "{FakeBotAPI.TOKEN}"
  base_url: "{fake.base_url}"
  base_file_url: "{fake.base_file_url}"
  webhook:
    listen: "127.0.0.1"
    port: 0
    path: "{HOOK}"
    public_url: "{public_url}"
    secret_token: "{SECRET}"
database:
  url: "{db_url}"
nudges:
  tick_seconds: 0.2
security:
  data_key: "{TEST_KEY}"
logging:
  level: INFO
"""
    )
    return path


class Cluster:
    """The processes and the load balancer in front of them."""

    def __init__(self, balancer: RoundRobin, processes: list[CoachProcess]) -> None:
        self.balancer = balancer
        self.processes = processes

    async def stop(self) -> list[int]:
        """SIGTERM to every process at once, as systemd would; their exit codes."""
        for coach in self.processes:
            coach.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            return list(await asyncio.gather(*(c.process.wait() for c in self.processes)))

    def errors(self) -> list[str]:
        return [line for coach in self.processes for line in coach.errors()]


@asynccontextmanager
async def cluster(fake: FakeBotAPI, db_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """Starts the processes together on one (possibly empty) database and waits, without
    sleeping, until each one listens, has set the webhook and answers /healthz."""
    balancer = RoundRobin()
    public_url = await balancer.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    processes: list[CoachProcess] = []
    readers: list[asyncio.Task[None]] = []
    try:
        for n in range(PROCESSES):
            config = config_file(tmp_path / f"coach-{n}.yaml", fake, db_url, public_url)
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", "--config", str(config),
                env=env, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            processes.append(CoachProcess(process))
            readers.append(asyncio.create_task(processes[-1].read_logs()))
        async with asyncio.timeout(60):
            await asyncio.gather(*(coach.ready for coach in processes))
        balancer.backends = [f"http://127.0.0.1:{c.port}{HOOK}" for c in processes]
        async with aiohttp.ClientSession() as http:
            for coach in processes:
                async with http.get(f"http://127.0.0.1:{coach.port}/healthz") as reply:
                    assert reply.status == 200, coach.tail()
                    assert await reply.json() == {"status": "ok", "database": "ok"}
        assert fake.webhook_url == public_url + HOOK and fake.webhook_secret == SECRET
        yield Cluster(balancer, processes)
    finally:
        for coach in processes:
            if coach.process.returncode is None:
                coach.process.kill()
                await coach.process.wait()
        for reader in readers:
            with contextlib.suppress(Exception):
                await reader
        for n, coach in enumerate(processes):  # shown by pytest when the test fails
            sys.stderr.write(f"--- coach run #{n} (port {coach.port}):\n{coach.tail(200)}\n")
        await balancer.stop()


# ------------------------------------------------------------------ what clients do

NUDGED = list(range(8000, 8060))
SOLO = 6101
CLIENTS = [6201, 6202, 6203, 6204]  # not a multiple of three: even in lockstep they rotate


async def seed(db_url: str) -> None:
    """Sixty clients whose daily nudge fell due a minute ago (real time: `coach run` uses it),
    written in one transaction while all three processes are ticking, so they race for it."""
    db = Database(db_url)
    due = datetime.now(UTC) - timedelta(minutes=1)
    try:
        async with db.transaction() as session:
            ids = await session.scalars(
                insert(User).returning(User.id),
                [{"telegram_id": u, "timezone": "UTC", "created_at": due} for u in NUDGED],
            )
            await session.execute(
                insert(Schedule),
                [
                    {
                        "user_id": user_id, "kind": "compassion", "days": 0b1111111,
                        "local_time": due.strftime("%H:%M"), "active": True,
                        "next_due_at": due, "next_send_at": due, "created_at": due,
                    }
                    for user_id in ids
                ],
            )  # fmt: skip
    finally:
        await db.dispose()


def nudges_sent(fake: FakeBotAPI) -> dict[int, int]:
    """Nudges each client sees: messages offering the Done button."""
    return {u: sum("✅ Done" in m.button_texts() for m in fake.messages(u)) for u in NUDGED}


def record_for(user: int) -> list[tuple[str, str]]:
    """tests/test_webhook_e2e.RECORD in this client's own words, so an answer that landed in
    someone else's record, or out of order, would show in what is saved."""
    return [
        ("/thought", "Step 1 of 9"),
        (f"Situation of {user}", "Step 2 of 9"),
        ("sad 70", "Step 3 of 9"),
        (f"Hot thought of {user}", "Step 4 of 9"),
        (f"For, by {user}", "Step 5 of 9"),
        (f"Against, by {user}", "Step 6 of 9"),
        ("skip", "Step 7 of 9"),
        (f"Balanced, by {user}", "How much do you believe"),
        ("skip", "Sad"),
        ("30", "Saved"),
    ]


async def say(fake: FakeBotAPI, user: int, text: str, *, expect: str) -> None:
    """Types as a person does: sends, then waits for the reply they are looking for."""
    before = len(fake.messages(user))
    fake.send_text(user, text)

    def answered() -> bool:
        return any(expect in (m.text or "") for m in fake.messages(user)[before:])

    try:
        await fake.wait_until(answered, timeout=15)
    except TimeoutError:
        got = [m.text for m in fake.messages(user)[before:]]
        raise AssertionError(f"{user} sent {text!r}, expected {expect!r}; got {got}") from None


async def do_record(fake: FakeBotAPI, user: int) -> None:
    for typed, expect in record_for(user):
        await say(fake, user, typed, expect=expect)


def transcript(fake: FakeBotAPI, user: int) -> list[str]:
    """What this client read, their own words made neutral so clients can be compared."""
    return [(m.text or "").replace(str(user), "<me>") for m in fake.messages(user)]


# ------------------------------------------------------------------ the test


async def test_three_processes_behind_a_load_balancer_are_one_bot(
    fake: FakeBotAPI, db_url: str, tmp_path: Path
):
    """One test, not three: starting three processes is most of its time."""
    require_postgres(db_url)
    async with cluster(fake, db_url, tmp_path) as coaches:  # they migrate the empty database
        balancer = coaches.balancer
        await seed(db_url)  # the fan-out runs while the clients below are typing
        # One client alone: each of their messages goes to the next process in turn.
        await do_record(fake, SOLO)
        assert balancer.backends_of(SOLO) == [n % PROCESSES for n in range(len(record_for(SOLO)))]
        # Several clients at once, each waiting for the bot's reply before typing on.
        await asyncio.gather(*(do_record(fake, user) for user in CLIENTS))
        await fake.wait_until(lambda: min(nudges_sent(fake).values()) >= 1, timeout=30)
        # Stopping waits for each dispatcher's tick and each update in flight: once they have
        # exited nothing more can be sent or recorded, so what is counted below is final.
        assert await coaches.stop() == [0] * PROCESSES
        assert coaches.errors() == []

    # 1. Each nudge went out once, and is recorded as sent once.
    assert nudges_sent(fake) == {u: 1 for u in NUDGED}
    assert sum(len(fake.messages(u)) for u in NUDGED) == len(NUDGED)  # and nothing else
    nudges = await rows_of(db_url, Nudge)
    assert len(nudges) == len({n.user_id for n in nudges}) == len(NUDGED)  # one row each
    assert {(n.status, n.claimed_at) for n in nudges} == {("sent", None)}

    # 2. The conversations were spread over the processes and each came out whole.
    everyone = [SOLO, *CLIENTS]
    for user in CLIENTS:
        assert len(set(balancer.backends_of(user))) > 1, balancer.backends_of(user)
    for user in everyone:
        [record] = await rows_of(db_url, ThoughtRecord, user)
        assert (record.situation, record.hot_thought, record.evidence_for) == (
            f"Situation of {user}",
            f"Hot thought of {user}",
            f"For, by {user}",
        )
        assert (record.evidence_against, record.balanced_thought) == (
            f"Against, by {user}",
            f"Balanced, by {user}",
        )
        assert json.loads(record.emotions) == [{"name": "sad", "before": 70, "after": 30}]
    assert len(await rows_of(db_url, ThoughtRecord)) == len(everyone)  # each saved once

    # 3. Each message reached one process once, answered 200 at the first try, and was
    # answered once: every client read the same conversation, each step's question once.
    sent = len(everyone) * len(record_for(SOLO))
    # Acknowledged (200) after the replies went out: the last may trail them.
    await fake.wait_until(lambda: fake.webhook_deliveries + len(fake.webhook_refusals) >= sent)
    assert [r.status for r in balancer.routes] == [200] * sent
    assert sorted(r.update_id for r in balancer.routes) == list(range(1, sent + 1))
    assert fake.webhook_refusals == [] and fake.webhook_deliveries == sent
    reference = transcript(fake, SOLO)
    # A welcome line before the first question, then one reply to each message, none twice.
    assert len(reference) == len(set(reference)) == len(record_for(SOLO)) + 1, reference
    assert all(transcript(fake, user) == reference for user in CLIENTS)
