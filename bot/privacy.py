"""What is stored, and erasing it: /privacy and /delete_me inside the service."""

from __future__ import annotations

import logging

from sqlalchemy import delete

from bot.turn import TurnBase, say
from flows.replies import Reply
from storage.models import User

log = logging.getLogger(__name__)

DELETE_ME = "delete_me"
CONFIRM_WORD = "DELETE"


class PrivacyTurn(TurnBase):
    deleted = False  # set when this event erased the user: nothing more may touch the row

    async def privacy(self, _args: str) -> list[Reply]:
        return [Reply(say("privacy", operator=self.settings.operator_name))]

    async def delete_me(self, _args: str) -> list[Reply]:
        self.set_flow(DELETE_ME)
        return [Reply(say("delete_ask", word=CONFIRM_WORD))]

    async def delete_text(self, typed: str) -> list[Reply]:
        """Only the exact word erases; anything else keeps everything."""
        if typed.strip() != CONFIRM_WORD:
            self.set_flow(None)
            return [Reply(say("delete_kept"))]
        # One statement; the database cascades to drafts, records, reminders, nudges.
        await self.session.execute(delete(User).where(User.id == self.user.id))
        self.session.expunge(self.user)  # gone: the commit must not try to update it
        self.deleted = True
        log.info("a user erased their data")
        return [Reply(say("deleted"))]
