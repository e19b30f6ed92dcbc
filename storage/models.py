"""The tables. Everything a client wrote is an EncryptedText column: a Fernet token at rest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.crypto import EncryptedText

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Always an aware UTC datetime in Python, whatever the database keeps (SQLite: naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Which dialogue plain text goes to now ("thought", "timezone"), if any.
    active_flow: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "HH:MM" local
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    paused_until: Mapped[datetime | None]  # "pause all for N days"
    blocked_at: Mapped[datetime | None]  # they blocked the bot: no nudges until they write


class Invite(Base):
    """A code that admits new clients when access.mode is "invite"."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    uses_left: Mapped[int | None]  # None: unlimited
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Schedule(Base):
    """A homework reminder: which kind, which days, what local time; one per kind per user.

    `next_due_at` is the next occurrence (what the client asked for); `next_send_at` is when
    it may go out (later if that falls in quiet hours). The dispatcher claims rows by it.
    """

    __tablename__ = "schedules"
    __table_args__ = (
        UniqueConstraint("user_id", "kind"),
        Index("ix_schedules_next_send_at", "next_send_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # compassion | walk | call
    days: Mapped[int] = mapped_column(Integer)  # bit mask, bit 0 = Monday
    local_time: Mapped[str] = mapped_column(String(5))  # "HH:MM"
    person: Mapped[str | None] = mapped_column(EncryptedText)  # who to call
    active: Mapped[bool] = mapped_column(default=True)
    next_due_at: Mapped[datetime | None]
    next_send_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Nudge(Base):
    """One occurrence of a reminder: queued → sent → done / skipped / missed (or failed).

    Unique on (schedule_id, due_at): however many processes tick, an occurrence is one row.
    """

    __tablename__ = "nudges"
    __table_args__ = (
        UniqueConstraint("schedule_id", "due_at"),
        Index("ix_nudges_status_send_at", "status", "send_at"),
        Index("ix_nudges_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    content_key: Mapped[str] = mapped_column(String(64))
    person: Mapped[str | None] = mapped_column(EncryptedText)
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime]  # the scheduled occurrence
    send_at: Mapped[datetime]  # when it may (next) be sent: quiet hours, snooze, retry
    planned_at: Mapped[datetime]  # when it was meant to go out (made, or snoozed): not retries
    expires_at: Mapped[datetime]  # unanswered by then: missed
    claimed_at: Mapped[datetime | None]  # a dispatcher is sending it now
    attempts: Mapped[int] = mapped_column(default=0)
    snoozes: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    message_ref: Mapped[int | None] = mapped_column(BigInteger)  # the chat message, to edit
    follow_up: Mapped[str | None] = mapped_column(String(16))  # better/same/worse, good/ok/hard
    note: Mapped[str | None] = mapped_column(EncryptedText)  # journal entry or call note


class Draft(Base):
    """An unfinished dialogue's state, so nothing lives only in process memory."""

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("user_id", "flow"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    flow: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ThoughtRecord(Base):
    __tablename__ = "thought_records"
    __table_args__ = (Index("ix_thought_records_user_completed", "user_id", "completed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime]
    situation: Mapped[str] = mapped_column(EncryptedText)
    # [{"name": str, "before": int, "after": int | None}, ...]
    emotions: Mapped[str] = mapped_column(EncryptedText)
    hot_thought: Mapped[str] = mapped_column(EncryptedText)
    evidence_for: Mapped[str] = mapped_column(EncryptedText)
    evidence_against: Mapped[str] = mapped_column(EncryptedText)
    traps: Mapped[str] = mapped_column(EncryptedText)  # JSON list of trap keys
    balanced_thought: Mapped[str] = mapped_column(EncryptedText)
    belief: Mapped[int | None] = mapped_column(Integer)


class Win(Base):
    """A small victory the client logged ("fixed the leaky tap")."""

    __tablename__ = "wins"
    __table_args__ = (Index("ix_wins_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    text: Mapped[str] = mapped_column(EncryptedText)


class HandledUpdate(Base):
    """A Telegram update already handled. Telegram delivers again whatever it did not see
    acknowledged (a 200 lost, a crash before the next poll): the second delivery must not
    apply the same answer twice. Kept a day; holds no one's identity or words."""

    __tablename__ = "handled_updates"
    __table_args__ = (Index("ix_handled_updates_handled_at", "handled_at"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    handled_at: Mapped[datetime]
