"""Queries, each scoped to one user: no function here can reach another user's rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import Draft, HandledUpdate, Invite, ThoughtRecord, User

# The query every event makes, built once: building a statement costs more than SQLite takes
# to run it (bench/throughput.py). It brings the draft of the dialogue the user is in along
# with their row, saving a second query on every answer.
_USER_FOR_UPDATE = (
    select(User, Draft)
    .outerjoin(Draft, and_(Draft.user_id == User.id, Draft.flow == User.active_flow))
    .where(User.telegram_id == bindparam("telegram_id"))
    .with_for_update(of=User)
    .execution_options(populate_existing=True)
)
_DRAFT = select(Draft).where(Draft.user_id == bindparam("user_id"), Draft.flow == bindparam("flow"))


async def user_for_update(
    session: AsyncSession, telegram_id: int, now: datetime
) -> tuple[User, Draft | None]:
    """Gets or creates the user, locking the row so one user's updates apply one at a time,
    even across processes sharing a PostgreSQL database; with the draft of their current
    dialogue, if any."""
    key = {"telegram_id": telegram_id}
    found = (await session.execute(_USER_FOR_UPDATE, key)).one_or_none()
    if found is None:
        insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
        await session.execute(
            insert(User)
            .values(telegram_id=telegram_id, created_at=now)
            .on_conflict_do_nothing(index_elements=["telegram_id"])
        )
        found = (await session.execute(_USER_FOR_UPDATE, key)).one()
    user, draft = found
    return user, draft


_HANDLED = HandledUpdate.__table__
# Every update makes it: built once per dialect, run on the session's connection (the ORM's
# statement path cost more than the insert itself).
_RECORD_HANDLED = {
    name: insert(_HANDLED)
    .values(update_id=bindparam("update_id"), handled_at=bindparam("at"))
    .on_conflict_do_nothing(index_elements=["update_id"])
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


async def first_delivery(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Records the update as handled in this transaction; False if it already was (by this
    process or another: a concurrent duplicate waits on the key until the first commits)."""
    connection = await session.connection()
    statement = _RECORD_HANDLED[connection.dialect.name]
    result = await connection.execute(statement, {"update_id": update_id, "at": now})
    return bool(result.rowcount)


async def forget_handled(session: AsyncSession, before: datetime) -> int:
    """Telegram redelivers within minutes; after a day the record is only clutter."""
    result = await session.execute(delete(_HANDLED).where(_HANDLED.c.handled_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def find_user(session: AsyncSession, telegram_id: int) -> User | None:
    return (
        await session.execute(select(User).where(User.telegram_id == telegram_id))
    ).scalar_one_or_none()


async def load_draft(session: AsyncSession, user_id: int, flow: str) -> Draft | None:
    key = {"user_id": user_id, "flow": flow}
    return (await session.execute(_DRAFT, key)).scalar_one_or_none()


_DRAFTS = Draft.__table__
_UPDATE_DRAFT = (
    update(_DRAFTS)
    .where(_DRAFTS.c.id == bindparam("draft_id"))
    .values(state=bindparam("new_state"), updated_at=bindparam("at"))
)


async def save_draft(
    session: AsyncSession, draft: Draft | None, user_id: int, flow: str, state: str, now: datetime
) -> Draft:
    """Adds a draft (written when the transaction commits), or writes the loaded one's new
    state at once with one UPDATE: the ORM's change tracking for it cost more than the rest of
    an answer's database work (bench/service_steps.py)."""
    if draft is None:
        draft = Draft(user_id=user_id, flow=flow, state=state, created_at=now, updated_at=now)
        session.add(draft)
        return draft
    await session.execute(_UPDATE_DRAFT, {"draft_id": draft.id, "new_state": state, "at": now})
    set_committed_value(draft, "state", state)  # the row in memory says what the table says
    set_committed_value(draft, "updated_at", now)
    return draft


async def add_thought_record(
    session: AsyncSession, user_id: int, fields: dict[str, Any]
) -> ThoughtRecord:
    record = ThoughtRecord(user_id=user_id, **fields)
    session.add(record)
    await session.flush()
    return record


async def count_thought_records(session: AsyncSession, user_id: int) -> int:
    query = select(func.count()).select_from(ThoughtRecord).where(ThoughtRecord.user_id == user_id)
    return int((await session.execute(query)).scalar_one())


async def list_thought_records(
    session: AsyncSession, user_id: int, *, offset: int, limit: int
) -> list[ThoughtRecord]:
    query = (
        select(ThoughtRecord)
        .where(ThoughtRecord.user_id == user_id)
        .order_by(ThoughtRecord.completed_at.desc(), ThoughtRecord.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def get_thought_record(
    session: AsyncSession, user_id: int, record_id: int
) -> ThoughtRecord | None:
    query = select(ThoughtRecord).where(
        ThoughtRecord.id == record_id, ThoughtRecord.user_id == user_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def use_invite(session: AsyncSession, code: str, now: datetime) -> bool:
    """Spends one use of a valid, unexpired invite code; False for anything else."""
    query = select(Invite).where(Invite.code == code[:32]).with_for_update()
    invite = (await session.execute(query)).scalar_one_or_none()
    if invite is None or (invite.expires_at is not None and invite.expires_at <= now):
        return False
    if invite.uses_left is not None:
        if invite.uses_left <= 0:
            return False
        invite.uses_left -= 1
    return True


async def create_invite(
    session: AsyncSession, code: str, uses: int | None, expires_at: datetime | None, now: datetime
) -> Invite:
    invite = Invite(code=code, uses_left=uses, expires_at=expires_at, created_at=now)
    session.add(invite)
    await session.flush()
    return invite
