"""Reading a person's history back: for /progress, /export, and wins in thought records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Nudge, ThoughtRecord, Win


async def add_win(session: AsyncSession, user_id: int, text: str, now: datetime) -> Win:
    win = Win(user_id=user_id, text=text, created_at=now)
    session.add(win)
    await session.flush()
    return win


async def wins_of(
    session: AsyncSession, user_id: int, since: datetime | None = None, limit: int | None = None
) -> list[Win]:
    """Newest first."""
    query = select(Win).where(Win.user_id == user_id)
    if since is not None:
        query = query.where(Win.created_at > since)
    query = query.order_by(Win.created_at.desc(), Win.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def records_of(
    session: AsyncSession, user_id: int, since: datetime | None = None
) -> list[ThoughtRecord]:
    """Oldest first."""
    query = select(ThoughtRecord).where(ThoughtRecord.user_id == user_id)
    if since is not None:
        query = query.where(ThoughtRecord.completed_at > since)
    query = query.order_by(ThoughtRecord.completed_at, ThoughtRecord.id)
    return list((await session.execute(query)).scalars())


async def nudges_of(
    session: AsyncSession, user_id: int, since: datetime | None = None
) -> list[Nudge]:
    """Oldest first, by when each was due."""
    query = select(Nudge).where(Nudge.user_id == user_id)
    if since is not None:
        query = query.where(Nudge.due_at > since)
    query = query.order_by(Nudge.due_at, Nudge.id)
    return list((await session.execute(query)).scalars())
