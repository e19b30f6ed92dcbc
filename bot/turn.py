"""The state every handler of one incoming event shares: its transaction, its user, its time."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from flows.content import load
from flows.replies import Button, Reply, rows
from storage import repo
from storage.models import Draft, User

if TYPE_CHECKING:
    from bot.service import CoachService


def say(key: str, **values: object) -> str:
    """A message from flows/content/messages.yaml."""
    return str(load("messages")[key]).format(**values)


def help_reply() -> Reply:
    """The help text with its commands as buttons, so nobody has to type."""
    buttons = [Button(label, f"C:{command}") for command, label in load("messages")["help_buttons"]]
    return Reply(say("help"), rows(buttons, 2))


class TurnBase:
    """One incoming event's work, inside the transaction that locks its user's row."""

    def __init__(
        self, service: CoachService, session: AsyncSession, user: User, now: datetime
    ) -> None:
        self.service = service
        self.settings = service.settings
        self.session = session
        self.user = user
        self.now = now
        self._drafts: dict[str, Draft | None] = {}

    def zone_name(self) -> str:
        return self.user.timezone or self.settings.default_timezone

    def set_flow(self, flow: str | None) -> None:
        """Which dialogue plain text goes to next. Only a change touches the row: an
        unchanged value set on it would still cost an update check at every commit."""
        if self.user.active_flow != flow:
            self.user.active_flow = flow

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(ZoneInfo(self.zone_name()))

    def known_draft(self, flow: str, row: Draft | None) -> None:
        """The draft (or none) already loaded with the user's row."""
        self._drafts[flow] = row

    async def draft_row(self, flow: str) -> Draft | None:
        """The user's draft for a dialogue, loaded once per event."""
        if flow not in self._drafts:
            self._drafts[flow] = await repo.load_draft(self.session, self.user.id, flow)
        return self._drafts[flow]

    async def store_draft(self, flow: str, state: str) -> Draft:
        row = await repo.save_draft(
            self.session, await self.draft_row(flow), self.user.id, flow, state, self.now
        )
        self._drafts[flow] = row
        return row

    async def drop_draft(self, flow: str) -> None:
        row = await self.draft_row(flow)
        if row is not None:
            await self.session.delete(row)
            await self.session.flush()  # gone now: a new draft of this flow may follow
        self._drafts[flow] = None
