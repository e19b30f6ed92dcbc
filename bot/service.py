"""The conversation service: one incoming event in, replies out, state in the database.

Transport-free: the Telegram adapter and `coach chat` both call `handle`. Each call runs in
one transaction that locks the user's row, so a user's events apply one at a time (across
processes too) and every answer is committed before any reply is returned for sending.
The work itself lives in the turn mixins: thought.py, homework.py, onboarding.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.homework import HOMEWORK
from bot.onboarding import ZONE_FLOWS, OnboardingTurn
from bot.privacy import DELETE_ME, PrivacyTurn
from bot.progress import WIN
from bot.settings import Settings
from bot.thought import THOUGHT, ThoughtTurn, new_id
from bot.turn import say
from flows import history, timezones
from flows import thought_record as tr
from flows.events import Choice, Command, NonText, Text
from flows.replies import Reply
from flows.safety import crisis_reply
from storage import repo
from storage.db import Database, stale_connection
from storage.models import User

log = logging.getLogger(__name__)

NAV_COMMANDS = {"back", "cancel", "example"}
BUTTON_COMMANDS = {
    "thought", "history", "timezone", "privacy", "reminders", "remind", "win", "progress",
    "export",
}  # fmt: skip
# Every value users.active_flow may hold (None aside): which dialogue plain text goes to.
FLOW_NAMES = (THOUGHT, HOMEWORK, DELETE_ME, WIN, *ZONE_FLOWS)


@dataclass(frozen=True)
class Incoming:
    """One thing a user did, in transport-neutral form. Exactly one field besides user_id."""

    user_id: int
    text: str | None = None
    choice: str | None = None
    location: tuple[float, float] | None = None
    non_text: bool = False
    caption: str | None = None  # a photo's or file's caption: read for safety, not as an answer
    # The transport's id for this delivery (Telegram's update_id): a second delivery of the
    # same one is recognised and not applied twice. None where nothing is redelivered.
    update_id: int | None = None


@dataclass
class Response:
    replies: list[Reply] = field(default_factory=list)
    notice: str | None = None  # a short pop-up for a tapped button ("That button has expired.")


async def _render_files(response: Response) -> Response:
    """Draws charts and PDFs now that the transaction is over (off the event loop)."""
    for index, reply in enumerate(response.replies):
        if reply.attachment is not None and reply.attachment.make is not None:
            done = await asyncio.to_thread(reply.attachment.rendered)
            response.replies[index] = dataclasses.replace(reply, attachment=done)
    return response


def _kind(incoming: Incoming) -> str:
    """What sort of event this is, for logs: never its content."""
    if incoming.choice is not None:
        return "button"
    if incoming.location is not None:
        return "location"
    if incoming.text is None:
        return "non-text message"
    command = parse_command(incoming.text)
    if command is None:
        return "text message"
    known = command[0] in _Turn.COMMANDS or command[0] in NAV_COMMANDS
    return f"/{command[0]} command" if known else "unknown command"  # its name was typed


def parse_command(text: str) -> tuple[str, str] | None:
    """`/thought@CoachBot  args` → ("thought", "args"); None if not a command."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, args = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name or not all(ch.isalnum() or ch == "_" for ch in name):
        return None
    return name, args.strip()


class _StaleConnection(Exception):
    """The event's first try met a connection that died before anything was written."""


class CoachService:
    def __init__(self, db: Database, clock: Clock, settings: Settings | None = None) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings or Settings()

    async def handle(self, incoming: Incoming) -> Response:
        now = self.clock.now()
        # Before anything else, on whatever text came with it.
        crisis = self.settings.detector.is_crisis(incoming.text or incoming.caption)
        try:
            response = await self._apply(incoming, now, crisis)
        except _StaleConnection:
            # The database restarted since this connection was last used. Nothing of this
            # event was written, and the pool now holds only fresh connections.
            log.warning("database connection lost (a restart?): the update is applied again")
            response = await self._apply(incoming, now, crisis, again=True)
        return await _render_files(response)  # committed: safe to send

    async def _apply(
        self, incoming: Incoming, now: datetime, crisis: bool, *, again: bool = False
    ) -> Response:
        """The event's one transaction, committed on return."""
        committing = False
        try:
            async with self.db.transaction() as session:
                response = await self._within(session, incoming, now, crisis)
                committing = True
        except DBAPIError as exc:
            # Lost at the commit, the event may have landed: it is never applied twice.
            if again or committing or not stale_connection(exc):
                raise
            raise _StaleConnection from exc
        return response

    async def _within(
        self, session: AsyncSession, incoming: Incoming, now: datetime, crisis: bool
    ) -> Response:
        if not await self._admitted(session, incoming, now):
            # A stranger in a closed mode: nothing of theirs is written or logged.
            return Response([Reply(say("not_admitted", operator=self.settings.operator_name))])
        user, draft = await repo.user_for_update(session, incoming.user_id, now)
        turn = _Turn(self, session, user, now)
        if user.active_flow is not None:
            turn.known_draft(user.active_flow, draft)
        if user.blocked_at is not None:  # they wrote again: reminders resume from now
            user.blocked_at = None
            await turn.replan_all()
        if log.isEnabledFor(logging.DEBUG):  # _kind parses the text: only when read
            log.debug("handling a %s in flow %s", _kind(incoming), user.active_flow)
        if await self._delivered_before(session, incoming, now):
            response = Response(await turn.where_we_are())
        else:
            response = await turn.dispatch(incoming)  # the answer is stored where it belongs
        if crisis:
            response = self._crisis(turn, user, response)
        return response

    def _crisis(self, turn: _Turn, user: User, response: Response) -> Response:
        """Safety first: the resources replace whatever the flow would have asked next, and
        the flow is paused (its draft kept) so nothing carries on by itself."""
        if not turn.deleted and user.active_flow == THOUGHT:
            turn.set_flow(None)
        log.info("crisis language recognised: safety resources sent")
        return Response([Reply(crisis_reply(self.settings.crisis_resources))], response.notice)

    async def _delivered_before(
        self, session: AsyncSession, incoming: Incoming, now: datetime
    ) -> bool:
        """Telegram delivers an update again when it never saw it acknowledged (the process
        died after committing, before its 200 or its next poll). Applying it again would put
        the same answer into the next question's place."""
        if incoming.update_id is None or await repo.first_delivery(
            session, incoming.update_id, now
        ):
            return False
        log.info("an update delivered a second time was not applied again")
        return True

    async def _admitted(self, session: AsyncSession, incoming: Incoming, now: datetime) -> bool:
        mode = self.settings.access_mode
        if mode == "open":
            return True
        if mode == "allowlist":
            return incoming.user_id in self.settings.allowlist
        if await repo.find_user(session, incoming.user_id) is not None:
            return True
        command = parse_command(incoming.text or "")
        if command is None or command[0] != "start" or not command[1]:
            return False
        return await repo.use_invite(session, command[1].split()[0], now)

    async def warm_up(self) -> None:
        """Loads the city table off the event loop, so the first city typed is answered fast."""
        await asyncio.to_thread(timezones.resolve, "London")


class _Turn(OnboardingTurn, ThoughtTurn, PrivacyTurn):
    """Routes one event to the part of the bot it belongs to."""

    COMMANDS = frozenset(
        {"start", "help", "thought", "history", "timezone", "privacy", "delete_me", "win",
         "progress", "export", "remind", "reminders", "quiet"}
    )  # fmt: skip

    async def dispatch(self, incoming: Incoming) -> Response:
        if incoming.choice is not None:
            return await self._on_choice(incoming.choice)
        if incoming.location is not None:
            return Response(await self.zone_location(*incoming.location))
        if incoming.non_text or incoming.text is None:
            if self.user.active_flow == THOUGHT:
                return Response(await self.feed_thought(NonText()))
            return Response([Reply(say("non_text"))])
        command = parse_command(incoming.text)
        if command is not None:
            return Response(await self._on_command(*command))
        return Response(await self._on_text(incoming.text))

    def _commands(self) -> dict[str, Callable[[str], Awaitable[list[Reply]]]]:
        """Each command is handled by the turn method of the same name."""
        return {name: getattr(self, name) for name in self.COMMANDS}

    async def _on_command(self, name: str, args: str) -> list[Reply]:
        if name in NAV_COMMANDS:
            return await self._on_nav(name)
        parked = await self._leave_flow()
        handler = self._commands().get(name)
        if handler is None:
            replies = [Reply(say("unknown_command", command=name[:32]))]
        else:
            replies = await handler(args)
        if parked is not None and name != "thought":
            replies.append(Reply(parked))
        return replies

    async def _leave_flow(self) -> str | None:
        """Another command interrupts: drafts stay saved; returns how to get back to a record."""
        was = self.user.active_flow
        self.set_flow(None)
        if was == HOMEWORK:
            await self.drop_draft(HOMEWORK)  # a half-chosen reminder time: nothing to keep
        return await self.parked_notice() if was == THOUGHT else None

    async def _on_nav(self, name: str) -> list[Reply]:
        if self.user.active_flow == THOUGHT:
            return await self.feed_thought(Command(name))  # type: ignore[arg-type]
        if self.user.active_flow in ZONE_FLOWS and name == "cancel":
            self.set_flow(None)
            return [Reply(say("timezone_kept", zone=self.zone_name()), remove_keyboard=True)]
        if self.user.active_flow == DELETE_ME and name == "cancel":
            return await self.delete_text("")
        if self.user.active_flow == HOMEWORK and name == "cancel":
            await self._leave_flow()
            return [Reply(say("nothing_to_cancel"))]
        parked = await self.parked_notice()
        if parked is not None:
            return [Reply(parked)]
        key = {"back": "nothing_to_go_back", "cancel": "nothing_to_cancel"}.get(
            name, "nothing_to_show"
        )
        return [Reply(say(key))]

    async def _on_text(self, typed: str) -> list[Reply]:
        if self.user.active_flow == THOUGHT:
            return await self.feed_thought(Text(typed))
        if self.user.active_flow in ZONE_FLOWS:
            return await self.zone_text(typed)
        if self.user.active_flow == HOMEWORK:
            return await self.homework_text(typed)
        if self.user.active_flow == DELETE_ME:
            return await self.delete_text(typed)
        if self.user.active_flow == WIN:
            return await self.win_text(typed)
        return await self.nudge_text(typed) or [Reply(say("fallback"))]

    async def _on_choice(self, data: str) -> Response:
        replies: list[Reply] | None = None
        if data.startswith("C:") and data[2:] in BUTTON_COMMANDS:
            replies = await self._on_command(data[2:], "")
        elif tr.belongs(data):
            replies = await self._thought_choice(data)
        elif data.startswith("Z:"):
            replies = await self.zone_choice(data[2:])
        elif (parsed := history.parse_choice(data)) is not None:
            replies = await self.history_choice(*parsed)
        else:
            replies = await self.homework_choice(data)
        if replies is None:
            return await self._expired()
        return Response(replies)

    async def _thought_choice(self, data: str) -> list[Reply] | None:
        draft = await self.load_thought()
        if draft is None:
            return None
        outcome = tr.handle(draft, Choice(data), new_id)
        if outcome.expired:
            return None
        self.set_flow(THOUGHT)  # a live step's button brings them back
        return await self.apply_thought(outcome, draft)

    async def where_we_are(self) -> list[Reply]:
        """For a message handled already: its replies may never have gone out, so the
        question now waiting is asked again (nothing is changed)."""
        if self.user.active_flow == THOUGHT and (draft := await self.load_thought()):
            return list(tr.prompt_again(draft, say("delivered_again")).replies)
        return []

    async def _expired(self) -> Response:
        notice = say("expired_plain")
        if self.user.active_flow == THOUGHT and (draft := await self.load_thought()):
            outcome = tr.prompt_again(draft, say("expired"))
            return Response(await self.apply_thought(outcome, draft), notice)
        return Response([Reply(notice)], notice)
