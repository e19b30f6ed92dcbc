"""The tables. Free text lives in Text columns that a later change encrypts in one place."""

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
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


class Draft(Base):
    """An unfinished dialogue's state, so nothing lives only in process memory."""

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("user_id", "flow"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    flow: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ThoughtRecord(Base):
    __tablename__ = "thought_records"
    __table_args__ = (Index("ix_thought_records_user_completed", "user_id", "completed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime]
    situation: Mapped[str] = mapped_column(Text)
    # [{"name": str, "before": int, "after": int | None}, ...]
    emotions: Mapped[str] = mapped_column(Text)
    hot_thought: Mapped[str] = mapped_column(Text)
    evidence_for: Mapped[str] = mapped_column(Text)
    evidence_against: Mapped[str] = mapped_column(Text)
    traps: Mapped[str] = mapped_column(Text)  # JSON list of trap keys
    balanced_thought: Mapped[str] = mapped_column(Text)
    belief: Mapped[int | None] = mapped_column(Integer)
