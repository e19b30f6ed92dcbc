"""The nudge dispatcher: the database is the truth, a repeating tick does the work.

Each tick (1) claims reminders that fell due, turns each occurrence into a nudge row under a
unique (schedule, due time) key and advances the reminder — one transaction; (2) claims queued
nudges and sends them, paced under Telegram's bulk limit; (3) marks unanswered ones missed.
A restart loses nothing (rows wait in the database); a second process never sends the same
occurrence (unique key, SKIP LOCKED claims). Transport-free: sending goes through a Sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.pacer import Pacer
from bot.progress import weekly_summary_text
from flows import homework
from flows.replies import Reply
from flows.schedule import Quiet, after_quiet, next_occurrence, parse_time
from storage import homework as store
from storage import repo
from storage.db import Database, stale_connection
from storage.models import Schedule, User

log = logging.getLogger(__name__)

# One dispatcher at a time, over all processes sharing a PostgreSQL database, claims and sends
# nudges: each paces itself, so two at once would send at twice Telegram's bulk limit.
NUDGE_LOCK = 0x436F616368  # "Coach"
HANDLED_KEPT = timedelta(days=1)  # update ids kept to spot redeliveries (the tick tidies)
CATCH_UP_LIMIT = timedelta(days=14)  # after a long outage, older occurrences are not replayed
MAX_BACKOFF = timedelta(minutes=5)


@dataclass(frozen=True)
class Delivery:
    """How one send went. Exactly one of the flags (or `ok`) is set."""

    ok: bool = False
    message_ref: int | None = None
    retry_after: float | None = None  # Telegram said: wait this long
    transient: bool = False  # timeout, network, 5xx: try again later
    blocked: bool = False  # the user blocked the bot


class Sender(Protocol):
    async def send(self, chat_id: int, reply: Reply) -> Delivery: ...


@dataclass(frozen=True)
class NudgeSettings:
    grace: timedelta = timedelta(hours=2)
    snooze: timedelta = timedelta(hours=1)
    missed_after: timedelta = timedelta(hours=24)
    max_per_second: float = 25.0
    batch: int = 200
    lease: timedelta = timedelta(minutes=2)
    default_timezone: str = "Europe/London"


@dataclass
class TickReport:
    created: int = 0
    sent: int = 0
    missed: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0


@dataclass(frozen=True)
class _Outgoing:
    nudge_id: int
    user_id: int
    chat_id: int
    kind: str
    content_key: str
    person: str | None
    planned_at: datetime
    due_at: datetime
    attempts: int


def quiet_of(user: User | Row[Any]) -> Quiet | None:
    """A person's quiet hours, from their row (or a query row carrying those columns)."""
    if user.quiet_start is None or user.quiet_end is None:
        return None
    start, end = parse_time(user.quiet_start), parse_time(user.quiet_end)
    return Quiet(start, end) if start is not None and end is not None else None


def plan(schedule: Schedule, user: User, now: datetime, default_zone: str) -> None:
    """Points the reminder at its next occurrence after `now` (and when it may be sent)."""
    zone = user.timezone or default_zone
    at = parse_time(schedule.local_time)
    assert at is not None, "schedules store valid HH:MM"
    due = next_occurrence(schedule.days, at, zone, now)
    schedule.next_due_at = due
    schedule.next_send_at = after_quiet(due, zone, quiet_of(user))


class _Recorder:
    """Writes send results in small groups: a fan-out commits once per GROUP sends instead of
    once per send. If the process dies, at most one group of sent nudges is unrecorded — those
    go out again once their claim's lease runs out (the at-least-once window)."""

    GROUP = 25

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[store.SendResult] = []
        self._lock = asyncio.Lock()

    async def add(self, result: store.SendResult) -> None:
        self._pending.append(result)
        if len(self._pending) >= self.GROUP:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            results, self._pending = self._pending, []
            if results:
                async with self.db.transaction() as session:
                    await store.finish_sends(session, results)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        sender: Sender,
        settings: NudgeSettings,
        *,
        only_user: int | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.sender = sender
        self.settings = settings
        self.only_user = only_user  # `coach chat` sends only its own user's nudges
        self._pacer = Pacer(settings.max_per_second, sleep=self._nap)
        self._recorder = _Recorder(db)
        self._running = asyncio.Lock()
        self._hold_until: datetime | None = None  # after a 429, everyone waits
        self._stopping = False
        self._stopped = asyncio.Event()  # set with _stopping: cuts the pacer's waits short
        self.ticks = 0  # completed ticks, for operators' logs and tests' waiting
        self._ticked = asyncio.Condition()

    async def stop(self) -> None:
        """Stops claiming and waits for the tick in flight: sends already started finish and
        are recorded, so a shutdown never leaves a nudge sent but not marked sent."""
        self._stopping = True
        self._stopped.set()
        async with self._running:
            pass

    async def _nap(self, seconds: float) -> None:
        """The pacer's sleep, cut short by stop(): nudges still waiting for their slot hand
        their claim back at once, rather than holding shutdown for the rest of the batch's
        slots (200 at 30/s is 6.7 s)."""
        if seconds < 0.05:  # a short wait is not worth a timer task (unthrottled fan-outs)
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)

    async def wait_ticks(self, count: int) -> None:
        """Returns once `count` more ticks have completed (callers bound the wait)."""
        target = self.ticks + count
        async with self._ticked:
            await self._ticked.wait_for(lambda: self.ticks >= target)

    async def tick(self) -> TickReport:
        report = TickReport()
        if self._running.locked() or self._stopping:
            return report  # the previous tick is still sending; it will pick up new work
        async with self._running:
            try:
                async with self._turn() as ours:
                    if ours:  # else another process is ticking: its pacer covers this bot
                        await self._tick(report)
            except DBAPIError as exc:
                if not stale_connection(exc):
                    raise
                # The pool has dropped the dead connections; claims made are handed back
                # when they lapse, as after any failed tick.
                log.warning("database connection lost (a restart?): nudges resume next tick")
            finally:
                self.ticks += 1
                async with self._ticked:
                    self._ticked.notify_all()
        return report

    def _turn(self) -> contextlib.AbstractAsyncContextManager[bool]:
        """The bot's turn to send. `coach chat` sends only its own user's few nudges: it
        never holds up the running bot's fan-out."""
        if self.only_user is not None:
            return contextlib.nullcontext(True)
        return self.db.exclusive(NUDGE_LOCK)

    async def _tick(self, report: TickReport) -> None:
        # A fan-out larger than one batch carries on in this tick, batch after batch, rather
        # than pausing a tick interval between batches.
        while not self._stopping:
            async with self.db.transaction() as session:
                claimed = await self._create_due(session, self.clock.now(), report)
            await self._send_queued(report)
            if claimed < self.settings.batch:
                break
        async with self.db.transaction() as session:
            report.expired = await store.expire_unanswered(session, self.clock.now())
            await repo.forget_handled(session, self.clock.now() - HANDLED_KEPT)
        if report.created or report.sent or report.missed or report.failed:
            log.info(
                "tick: %d due, %d sent, %d missed, %d retried, %d failed, %d expired",
                report.created,
                report.sent,
                report.missed,
                report.retried,
                report.failed,
                report.expired,
            )

    async def _create_due(self, session: AsyncSession, now: datetime, report: TickReport) -> int:
        """Occurrences of the due reminders it claimed (how many it returns) become nudges."""
        s = self.settings
        claimed = await store.claim_due_schedules(session, now, s.batch, self.only_user)
        all_counts = await store.content_counts_many(session, [r.user_id for r in claimed])
        rows: list[dict[str, object]] = []
        moves: list[tuple[int, datetime, datetime | None]] = []
        for reminder in claimed:
            zone = reminder.timezone or s.default_timezone
            quiet = quiet_of(reminder)
            at = parse_time(reminder.local_time)
            next_due, next_send = reminder.next_due_at, reminder.next_send_at
            assert at is not None and next_due is not None
            if now - next_due > CATCH_UP_LIMIT:
                next_due = next_occurrence(reminder.days, at, zone, now - CATCH_UP_LIMIT)
                next_send = after_quiet(next_due, zone, quiet)
            counts = all_counts.setdefault((reminder.user_id, reminder.kind), {})
            while next_send is not None and next_send <= now:
                due, send_at = next_due, next_send
                following = next_occurrence(reminder.days, at, zone, due)
                paused = reminder.paused_until is not None and reminder.paused_until > due
                if not paused:
                    key = homework.pick_key(reminder.kind, counts, reminder.user_id)
                    counts[key] = counts.get(key, 0) + 1
                    rows.append(
                        {
                            "user_id": reminder.user_id,
                            "schedule_id": reminder.id,
                            "kind": reminder.kind,
                            "content_key": key,
                            "person": reminder.person,
                            "status": "missed" if now - send_at > s.grace else "queued",
                            "due_at": due,
                            "send_at": send_at,
                            "planned_at": send_at,
                            "expires_at": max(
                                min(following, due + s.missed_after),
                                send_at + timedelta(hours=1),
                            ),
                            "attempts": 0,
                            "snoozes": 0,
                        }
                    )
                next_due, next_send = following, after_quiet(following, zone, quiet)
            moves.append((reminder.id, next_due, next_send))
        await store.advance_schedules(session, moves)
        statuses = await store.add_nudges(session, rows)
        report.created += len(statuses)
        report.missed += statuses.count("missed")
        return len(claimed)

    async def _send_queued(self, report: TickReport) -> None:
        while not self._stopping:
            now = self.clock.now()
            if self._held():
                return
            async with self.db.transaction() as session:
                claimed = await store.claim_sendable(
                    session, now, self.settings.lease, self.settings.batch, self.only_user
                )
                batch = [
                    _Outgoing(
                        r.id, r.user_id, r.telegram_id, r.kind, r.content_key, r.person,
                        r.planned_at, r.due_at, r.attempts,
                    )
                    for r in claimed
                ]  # fmt: skip
            if not batch:
                return
            try:
                await asyncio.gather(*(self._deliver(item, report) for item in batch))
            finally:
                await self._recorder.flush()

    def _held(self) -> bool:
        return self._hold_until is not None and self.clock.now() < self._hold_until

    async def _release(self, item: _Outgoing) -> None:
        async with self.db.transaction() as session:
            await store.release(session, item.nudge_id)

    async def _weekly_summary(self, item: _Outgoing, now: datetime) -> Reply:
        async with self.db.transaction() as session:
            user = await session.get(User, item.user_id)
            assert user is not None
            zone = user.timezone or self.settings.default_timezone
            return Reply(await weekly_summary_text(session, user.id, now, zone))

    async def _deliver(self, item: _Outgoing, report: TickReport) -> None:
        if self._stopping:  # shutting down: hand the claim back untouched for the next start
            await self._release(item)
            return
        now = self.clock.now()
        # Kept failing past the grace window, counted from when it was meant to go out (not
        # from the last retry): a reminder hours late is worse than none.
        if now - item.planned_at > self.settings.grace:
            async with self.db.transaction() as session:
                await store.finish_send(
                    session, item.nudge_id, status="missed", now=now, message_ref=None
                )
            log.warning("nudge %d could not be delivered within the grace window", item.nudge_id)
            report.missed += 1
            return
        if item.kind == homework.SUMMARY:
            reply = await self._weekly_summary(item, now)
        else:
            snooze_minutes = int(self.settings.snooze.total_seconds() // 60)
            reply = homework.render_nudge(
                item.kind, item.content_key, item.person, item.nudge_id, snooze_minutes
            )
        await self._pacer.wait()
        if self._stopping or self._held():
            # Stopping, or Telegram said "wait" while this one waited for its slot: sending
            # now would only earn another 429. Its claim goes back; a hold moved its send_at.
            await self._release(item)
            return
        delivery = await self.sender.send(item.chat_id, reply)
        now = self.clock.now()
        if delivery.retry_after is not None:  # at once: sends waiting for a slot see it
            until = now + timedelta(seconds=delivery.retry_after)
            self._hold_until = max(until, self._hold_until or until)
        if delivery.ok:
            # A summary asks for nothing: it is done once delivered.
            status = "done" if item.kind == homework.SUMMARY else "sent"
            await self._recorder.add(
                store.SendResult(item.nudge_id, status, now, delivery.message_ref)
            )
            report.sent += 1
            return
        async with self.db.transaction() as session:
            if delivery.blocked:
                # The user's row first, as the service locks it: no lock-order deadlock.
                await store.block_user(session, item.user_id, now)
                await store.finish_send(
                    session, item.nudge_id, status="failed", now=now, message_ref=None
                )
                log.info("user blocked the bot: their reminders wait until they write again")
                report.failed += 1
            elif delivery.retry_after is not None:
                assert self._hold_until is not None  # set as the answer came
                # Every process holds off, not just this one: the queue waits in the database.
                await store.retry_later(session, item.nudge_id, self._hold_until)
                await store.hold_queued(session, self._hold_until)
                report.retried += 1
            elif delivery.transient:
                backoff = min(timedelta(seconds=2 ** min(item.attempts, 8)), MAX_BACKOFF)
                await store.retry_later(session, item.nudge_id, now + backoff)
                report.retried += 1
            else:
                await store.finish_send(
                    session, item.nudge_id, status="failed", now=now, message_ref=None
                )
                log.warning("nudge %d refused by Telegram; not retried", item.nudge_id)
                report.failed += 1
