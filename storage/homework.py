"""Queries for reminders and nudges. The claim queries lock with SKIP LOCKED on PostgreSQL, so
several bot processes can tick against one database and each occurrence is handled once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Nudge, Schedule, User

OPEN = "sent"
_NUDGES = Nudge.__table__
# A nudge can be answered once it has been sent, also while a snooze waits to send it again.
ANSWERABLE = ("sent", "queued")


async def schedules_of(session: AsyncSession, user_id: int) -> list[Schedule]:
    query = select(Schedule).where(Schedule.user_id == user_id).order_by(Schedule.id)
    return list((await session.execute(query)).scalars())


async def schedule_of(session: AsyncSession, user_id: int, kind: str) -> Schedule | None:
    query = select(Schedule).where(Schedule.user_id == user_id, Schedule.kind == kind)
    return (await session.execute(query)).scalar_one_or_none()


async def claim_due_schedules(
    session: AsyncSession, now: datetime, limit: int, only_user: int | None = None
) -> list[Row[Any]]:
    """Active reminders whose next occurrence may be sent now, locked for this transaction:
    the reminder's fields with its owner's `timezone`, quiet hours and `paused_until`. Plain
    rows, moved on with `advance_schedules`: a fan-out takes hundreds at a time."""
    query = (
        select(
            Schedule.id, Schedule.user_id, Schedule.kind, Schedule.days, Schedule.local_time,
            Schedule.person, Schedule.next_due_at, Schedule.next_send_at,
            User.timezone, User.quiet_start, User.quiet_end, User.paused_until,
        )
        .join(User, User.id == Schedule.user_id)
        .where(
            Schedule.active.is_(True),
            Schedule.next_send_at <= now,
            User.blocked_at.is_(None),
        )
        .order_by(Schedule.next_send_at)
        .limit(limit)
        .with_for_update(of=Schedule, skip_locked=True)
    )  # fmt: skip
    if only_user is not None:
        query = query.where(User.telegram_id == only_user)
    return list((await session.execute(query)).all())


_SCHEDULES = Schedule.__table__
_ADVANCE = (
    update(_SCHEDULES)
    .where(_SCHEDULES.c.id == bindparam("schedule_id"))
    .values(next_due_at=bindparam("due"), next_send_at=bindparam("send"))
)


async def advance_schedules(
    session: AsyncSession, moves: Sequence[tuple[int, datetime, datetime | None]]
) -> None:
    """(schedule id, next occurrence, when it may be sent) for many reminders at once."""
    if moves:
        await session.execute(
            _ADVANCE, [{"schedule_id": i, "due": due, "send": send} for i, due, send in moves]
        )


async def add_nudges(session: AsyncSession, rows: list[dict[str, object]]) -> list[str]:
    """Inserts occurrences in one statement; returns the statuses of those really inserted
    (an occurrence another process already created is skipped by the unique key)."""
    if not rows:
        return []
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(_NUDGES)  # the table, not the ORM class: no per-row ORM bookkeeping
        .on_conflict_do_nothing(index_elements=["schedule_id", "due_at"])
        .returning(_NUDGES.c.status)
    )
    return list((await session.execute(statement, rows)).scalars())


async def content_counts_many(
    session: AsyncSession, user_ids: list[int]
) -> dict[tuple[int, str], dict[str, int]]:
    """How often each person has had each exercise, for many people in one query."""
    query = (
        select(Nudge.user_id, Nudge.kind, Nudge.content_key, func.count())
        .where(Nudge.user_id.in_(user_ids))
        .group_by(Nudge.user_id, Nudge.kind, Nudge.content_key)
    )
    counts: dict[tuple[int, str], dict[str, int]] = {}
    for user_id, kind, key, count in (await session.execute(query)).all():
        counts.setdefault((user_id, kind), {})[key] = int(count)
    return counts


async def claim_sendable(
    session: AsyncSession, now: datetime, lease: timedelta, limit: int, only_user: int | None
) -> list[Row[Any]]:
    """Queued nudges due to go out, marked as being sent by this process. A claim older than
    `lease` belongs to a process that died mid-send, and is taken over. Plain rows (the
    nudge's fields, and the user's id as `user_id` and chat as `telegram_id`) and one UPDATE
    for the lot: a fan-out claims hundreds at a time."""
    query = (
        select(
            Nudge.id, Nudge.user_id, User.telegram_id, Nudge.kind, Nudge.content_key,
            Nudge.person, Nudge.planned_at, Nudge.due_at, Nudge.attempts,
        )
        .join(User, User.id == Nudge.user_id)
        .where(
            Nudge.status == "queued",
            Nudge.send_at <= now,
            or_(Nudge.claimed_at.is_(None), Nudge.claimed_at < now - lease),
            User.blocked_at.is_(None),
        )
        .order_by(Nudge.send_at)
        .limit(limit)
        .with_for_update(of=Nudge, skip_locked=True)
    )  # fmt: skip
    if only_user is not None:
        query = query.where(User.telegram_id == only_user)
    claimed = list((await session.execute(query)).all())
    if claimed:
        ids = [row.id for row in claimed]
        await session.execute(update(_NUDGES).where(_NUDGES.c.id.in_(ids)).values(claimed_at=now))
    return claimed


async def expire_unanswered(session: AsyncSession, now: datetime) -> int:
    """Sent and never answered by the next occurrence (or the time limit): missed."""
    result = await session.execute(
        update(Nudge)
        .where(Nudge.status == OPEN, Nudge.expires_at <= now)
        .values(status="missed")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def open_nudges(session: AsyncSession, user_id: int, now: datetime) -> list[Nudge]:
    """Nudges waiting for an answer, most recently sent first."""
    query = (
        select(Nudge)
        .where(
            Nudge.user_id == user_id,
            Nudge.status.in_(ANSWERABLE),
            Nudge.sent_at.is_not(None),  # queued but never sent: nothing to answer yet
            Nudge.expires_at > now,
        )
        .order_by(Nudge.sent_at.desc(), Nudge.id.desc())
    )
    return list((await session.execute(query)).scalars())


async def nudge_of(session: AsyncSession, user_id: int, nudge_id: int) -> Nudge | None:
    query = select(Nudge).where(Nudge.id == nudge_id, Nudge.user_id == user_id)
    return (await session.execute(query)).scalar_one_or_none()


async def recently_answered(
    session: AsyncSession, user_id: int, since: datetime, kinds: tuple[str, ...]
) -> Nudge | None:
    """The latest nudge marked done since `since` that has no note yet."""
    query = (
        select(Nudge)
        .where(
            Nudge.user_id == user_id,
            Nudge.status == "done",
            Nudge.note.is_(None),
            Nudge.answered_at >= since,
            Nudge.kind.in_(kinds),
        )
        .order_by(Nudge.answered_at.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


# Recording a send's outcome, built once and run for many nudges at a time (executemany):
# in a fan-out, building an ORM update per nudge cost more than all the rest of the work.
# Only a nudge still waiting to go out changes: one answered meanwhile (done early from an
# old message, say) keeps its answer.
_DELIVERED = (
    update(_NUDGES)
    .where(_NUDGES.c.id == bindparam("nudge_id"), _NUDGES.c.status == "queued")
    .values(
        status=bindparam("new_status"),
        claimed_at=None,
        sent_at=bindparam("at"),
        message_ref=bindparam("ref"),
    )
)
_UNDELIVERED = (
    update(_NUDGES)
    .where(_NUDGES.c.id == bindparam("nudge_id"), _NUDGES.c.status == "queued")
    .values(status=bindparam("new_status"), claimed_at=None)
)


@dataclass(frozen=True)
class SendResult:
    nudge_id: int
    status: str
    at: datetime
    message_ref: int | None = None


async def finish_sends(session: AsyncSession, results: Sequence[SendResult]) -> None:
    """Records many outcomes in one statement per kind (delivered, or not)."""
    delivered = [r for r in results if r.status in (OPEN, "done")]
    undelivered = [r for r in results if r.status not in (OPEN, "done")]
    if delivered:
        await session.execute(
            _DELIVERED,
            [
                {"nudge_id": r.nudge_id, "new_status": r.status, "at": r.at, "ref": r.message_ref}
                for r in delivered
            ],
        )
    if undelivered:
        await session.execute(
            _UNDELIVERED, [{"nudge_id": r.nudge_id, "new_status": r.status} for r in undelivered]
        )


async def finish_send(
    session: AsyncSession, nudge_id: int, *, status: str, now: datetime, message_ref: int | None
) -> None:
    await finish_sends(session, [SendResult(nudge_id, status, now, message_ref)])


async def retry_later(session: AsyncSession, nudge_id: int, at: datetime) -> None:
    await session.execute(
        update(Nudge)
        .where(Nudge.id == nudge_id)
        .values(claimed_at=None, send_at=at, attempts=Nudge.attempts + 1)
    )


async def hold_queued(session: AsyncSession, until: datetime) -> None:
    """Telegram said to wait (429): no queued nudge goes out before `until`, from any
    process. Their grace windows count from planned_at, so waiting does not extend them."""
    await session.execute(
        update(_NUDGES)
        .where(_NUDGES.c.status == "queued", _NUDGES.c.send_at < until)
        .values(send_at=until)
    )


async def release(session: AsyncSession, nudge_id: int) -> None:
    """Gives a claimed, unsent nudge back to the queue (a process stopping mid-fan-out)."""
    await session.execute(update(Nudge).where(Nudge.id == nudge_id).values(claimed_at=None))


async def block_user(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(update(User).where(User.id == user_id).values(blocked_at=now))
