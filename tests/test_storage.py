"""Storage against real databases: SQLite file, and PostgreSQL when configured."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, inspect, select

from storage import migrate, repo
from storage.db import Database
from storage.models import Draft, Nudge, ThoughtRecord, User

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)


def record_fields(hot: str, when: datetime) -> dict:
    return {
        "started_at": when - timedelta(minutes=10),
        "completed_at": when,
        "situation": "s",
        "emotions": "[]",
        "hot_thought": hot,
        "evidence_for": "f",
        "evidence_against": "a",
        "traps": "[]",
        "balanced_thought": "b",
        "belief": None,
    }


async def test_migrations_reach_head_and_are_idempotent(db: Database):
    assert await migrate.current(db) == migrate.head()
    await migrate.upgrade(db)  # a second start changes nothing
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert {"users", "drafts", "thought_records", "alembic_version"} <= tables


async def test_concurrent_first_messages_create_one_user(db: Database):
    async def first_message() -> int:
        async with db.transaction() as session:
            return (await repo.user_for_update(session, 77, NOW))[0].id

    ids = await asyncio.gather(*(first_message() for _ in range(8)))
    assert len(set(ids)) == 1


async def test_times_come_back_aware_and_in_utc(db: Database):
    async with db.transaction() as session:
        user, _ = await repo.user_for_update(session, 5, NOW)
        await repo.add_thought_record(session, user.id, record_fields("h", NOW))
    async with db.transaction() as session:
        [record] = await repo.list_thought_records(session, user.id, offset=0, limit=5)
    assert record.completed_at == NOW and record.completed_at.tzinfo is not None


async def test_drafts_are_one_per_user_and_flow(db: Database):
    async with db.transaction() as session:
        user, _ = await repo.user_for_update(session, 5, NOW)
        draft = await repo.save_draft(session, None, user.id, "thought", '{"v": 1}', NOW)
        await session.flush()
        await repo.save_draft(
            session, draft, user.id, "thought", '{"v": 2}', NOW + timedelta(hours=1)
        )
    async with db.transaction() as session:
        draft = await repo.load_draft(session, user.id, "thought")
        count = len(list((await session.execute(select(Draft))).scalars()))
    assert count == 1 and draft is not None and draft.state == '{"v": 2}'
    assert draft.created_at == NOW and draft.updated_at == NOW + timedelta(hours=1)


async def test_records_are_only_reachable_by_their_owner(db: Database):
    async with db.transaction() as session:
        ana, _ = await repo.user_for_update(session, 1, NOW)
        ben, _ = await repo.user_for_update(session, 2, NOW)
        for n in range(3):
            await repo.add_thought_record(
                session, ana.id, record_fields(f"ana {n}", NOW + timedelta(minutes=n))
            )
        bens = await repo.add_thought_record(session, ben.id, record_fields("ben", NOW))
    async with db.transaction() as session:
        assert await repo.get_thought_record(session, ana.id, bens.id) is None
        assert (await repo.get_thought_record(session, ben.id, bens.id)).hot_thought == "ben"
        page = await repo.list_thought_records(session, ana.id, offset=0, limit=2)
        assert [r.hot_thought for r in page] == ["ana 2", "ana 1"]
        assert await repo.count_thought_records(session, ana.id) == 3


async def test_deleting_a_user_removes_their_rows(db: Database):
    async with db.transaction() as session:
        user, _ = await repo.user_for_update(session, 9, NOW)
        await repo.save_draft(session, None, user.id, "thought", "{}", NOW)
        await repo.add_thought_record(session, user.id, record_fields("h", NOW))
    async with db.transaction() as session:
        await session.execute(delete(User).where(User.id == user.id))
    async with db.transaction() as session:
        assert list((await session.execute(select(Draft))).scalars()) == []
        assert list((await session.execute(select(ThoughtRecord))).scalars()) == []


async def test_a_failed_transaction_leaves_nothing_behind(db: Database):
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            user, _ = await repo.user_for_update(session, 11, NOW)
            await repo.save_draft(session, None, user.id, "thought", "{}", NOW)
            raise RuntimeError("crash between saving and replying")
    async with db.transaction() as session:
        assert await repo.find_user(session, 11) is None


async def test_a_sqlite_file_locked_by_another_process_is_waited_for_off_the_loop(
    tmp_path: Path,
):
    """Statements run on the loop's thread; only waiting for someone else's write lock (an
    operator's `coach export`, say) goes to a thread, so the bot keeps answering meanwhile."""
    path = tmp_path / "busy.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await migrate.upgrade(db)
    other = sqlite3.connect(path, isolation_level=None)  # as a second process would
    other.execute("BEGIN IMMEDIATE")
    try:

        async def first_message() -> None:
            async with db.transaction() as session:
                await repo.user_for_update(session, 42, NOW)

        waiting = asyncio.create_task(first_message())
        # The loop keeps turning (this wait returns on time) while the write waits, unfailed.
        done, _ = await asyncio.wait({waiting}, timeout=0.3)
        assert not done
    finally:
        other.execute("COMMIT")
        other.close()
    await asyncio.wait_for(waiting, 10)
    async with db.transaction() as session:
        assert (await repo.find_user(session, 42)) is not None
    await db.dispose()


async def test_one_process_at_a_time_holds_an_exclusive_turn(db: Database, db_url: str):
    if not db.is_postgres:
        async with db.exclusive(1) as ours:  # one process serves a SQLite file
            assert ours
        return
    other = Database(db_url)  # another process's engine: its own connections
    try:
        async with db.exclusive(1) as first:
            async with other.exclusive(1) as second, other.exclusive(2) as another_key:
                assert (first, second, another_key) == (True, False, True)
        async with other.exclusive(1) as after_release:
            assert after_release

        # A process that dies holding the turn gives it up with its connection.
        async with db.exclusive(1) as first:
            assert first
            async with other.engine.connect() as admin:
                await admin.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND objid = 1 AND granted"
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                )
            async with other.exclusive(1) as taken_over:
                assert taken_over
    finally:
        await other.dispose()


async def test_nudges_made_before_planned_at_existed_count_their_grace_from_send_at(
    db_url: str,
):
    db = Database(db_url)
    try:
        await migrate.upgrade(db, "0004")
        async with db.transaction() as session:
            user_id = await session.scalar(
                insert(User).values(telegram_id=5, created_at=NOW).returning(User.id)
            )
            await session.execute(
                insert(Nudge.__table__).values(  # the columns revision 0004 has
                    user_id=user_id, kind="walk", content_key="w1", status="queued",
                    due_at=NOW, send_at=NOW + timedelta(hours=1), attempts=3, snoozes=0,
                    expires_at=NOW + timedelta(days=1),
                )
            )  # fmt: skip
        await migrate.upgrade(db)
        async with db.transaction() as session:
            [nudge] = (await session.scalars(select(Nudge))).all()
        assert nudge.planned_at == nudge.send_at == NOW + timedelta(hours=1)
    finally:
        await db.dispose()


async def test_an_update_is_recorded_as_handled_once_and_forgotten_after(db: Database):
    async with db.transaction() as session:
        assert await repo.first_delivery(session, 41, NOW)
        assert not await repo.first_delivery(session, 41, NOW)  # the same one again
        assert await repo.first_delivery(session, 42, NOW + timedelta(hours=2))
    async with db.transaction() as session:
        assert not await repo.first_delivery(session, 41, NOW)  # in a later transaction too
        assert await repo.forget_handled(session, NOW + timedelta(hours=1)) == 1
    async with db.transaction() as session:
        assert await repo.first_delivery(session, 41, NOW + timedelta(days=1))  # forgotten
        assert not await repo.first_delivery(session, 42, NOW + timedelta(days=1))
