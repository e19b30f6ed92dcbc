"""The conversation service: one incoming event in, replies out, state in the database.

Transport-free: the Telegram adapter and `coach chat` both call `handle`. Each call runs in
one transaction that locks the user's row, so a user's events apply one at a time (across
processes too) and every answer is committed before any reply is returned for sending.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from flows import history, timezones
from flows import thought_record as tr
from flows.content import load
from flows.events import Choice, Command, Event, NonText, Text
from flows.record import Emotion, RecordAnswers, format_record
from flows.replies import Button, Reply, rows
from storage import repo
from storage.db import Database
from storage.models import Draft, ThoughtRecord, User

log = logging.getLogger(__name__)

THOUGHT = "thought"
ONBOARDING = "onboarding"  # the time-zone question asked by /start
TIMEZONE = "timezone"  # the same question asked by /timezone
NAV_COMMANDS = {"back", "cancel", "example"}
BUTTON_COMMANDS = {"thought", "history", "timezone", "privacy"}  # offered under /help


@dataclass(frozen=True)
class Incoming:
    """One thing a user did, in transport-neutral form. Exactly one field besides user_id."""

    user_id: int
    text: str | None = None
    choice: str | None = None
    location: tuple[float, float] | None = None
    non_text: bool = False


@dataclass
class Response:
    replies: list[Reply] = field(default_factory=list)
    notice: str | None = None  # a short pop-up for a tapped button ("That button has expired.")


@dataclass(frozen=True)
class Settings:
    default_timezone: str = "Europe/London"
    operator_name: str = "the person or clinic who runs this bot"


def _text(key: str, **values: object) -> str:
    return str(load("messages")[key]).format(**values)


def parse_command(text: str) -> tuple[str, str] | None:
    """`/thought@CoachBot  args` → ("thought", "args"); None if not a command."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, args = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name or not all(ch.isalnum() or ch == "_" for ch in name):
        return None
    return name, args.strip()


class CoachService:
    def __init__(self, db: Database, clock: Clock, settings: Settings | None = None) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings or Settings()

    async def handle(self, incoming: Incoming) -> Response:
        now = self.clock.now()
        async with self.db.transaction() as session:
            user = await repo.user_for_update(session, incoming.user_id, now)
            turn = _Turn(self, session, user, now)
            response = await turn.dispatch(incoming)
        return response  # committed: safe to send

    async def warm_up(self) -> None:
        """Loads the city table off the event loop, so the first city typed is answered fast."""
        await asyncio.to_thread(timezones.resolve, "London")


class _Turn:
    """The work of one incoming event, inside its transaction."""

    def __init__(
        self, service: CoachService, session: AsyncSession, user: User, now: datetime
    ) -> None:
        self.service = service
        self.session = session
        self.user = user
        self.now = now
        self._draft: Draft | None = None  # the thought draft row, once loaded
        self._draft_loaded = False

    # ── routing ────────────────────────────────────────────────────────────────

    async def dispatch(self, incoming: Incoming) -> Response:
        if incoming.choice is not None:
            return await self._on_choice(incoming.choice)
        if incoming.location is not None:
            return Response(await self._on_location(*incoming.location))
        if incoming.non_text or incoming.text is None:
            if self.user.active_flow == THOUGHT:
                return Response(await self._feed_thought(NonText()))
            return Response([Reply(_text("non_text"))])
        command = parse_command(incoming.text)
        if command is not None:
            return Response(await self._on_command(*command))
        return Response(await self._on_text(incoming.text))

    async def _on_command(self, name: str, args: str) -> list[Reply]:
        if name in NAV_COMMANDS:
            return await self._on_nav(name)
        parked = await self._leave_flow()
        handlers = {
            "start": self._start,
            "help": self._help,
            "thought": self._thought,
            "history": self._history,
            "timezone": self._timezone,
            "privacy": self._privacy,
        }
        handler = handlers.get(name)
        if handler is None:
            replies = [Reply(_text("unknown_command", command=name[:32]))]
        else:
            replies = await handler(args)
        if parked is not None and name != "thought":
            replies.append(Reply(parked))
        return replies

    async def _leave_flow(self) -> str | None:
        """Another command interrupts: the draft stays saved; returns how to get back to it."""
        was = self.user.active_flow
        self.user.active_flow = None
        if was != THOUGHT:
            return None
        draft = await self._load_thought()
        return tr.parked_notice(draft) if draft is not None else None

    async def _on_nav(self, name: str) -> list[Reply]:
        if self.user.active_flow == THOUGHT:
            return await self._feed_thought(Command(name))  # type: ignore[arg-type]
        if self.user.active_flow in (ONBOARDING, TIMEZONE) and name == "cancel":
            self.user.active_flow = None
            return [Reply(_text("timezone_kept", zone=self._zone_name()), remove_keyboard=True)]
        draft = await self._load_thought()
        if draft is not None:
            return [Reply(tr.parked_notice(draft))]
        key = {"back": "nothing_to_go_back", "cancel": "nothing_to_cancel"}.get(
            name, "nothing_to_show"
        )
        return [Reply(_text(key))]

    async def _on_text(self, text: str) -> list[Reply]:
        if self.user.active_flow == THOUGHT:
            return await self._feed_thought(Text(text))
        if self.user.active_flow in (ONBOARDING, TIMEZONE):
            zone = await asyncio.to_thread(timezones.resolve, text)
            if zone is None:
                return [Reply(_text("timezone_unknown", text=text.strip()[:60]))]
            return self._set_zone(zone)
        return [Reply(_text("fallback"))]

    async def _on_location(self, latitude: float, longitude: float) -> list[Reply]:
        if self.user.active_flow not in (ONBOARDING, TIMEZONE):
            return [Reply(_text("location_outside"))]
        zone = await asyncio.to_thread(timezones.from_location, latitude, longitude)
        if zone is None:
            return [Reply(_text("timezone_location_unknown"))]
        return self._set_zone(zone)

    async def _on_choice(self, data: str) -> Response:
        if data.startswith("C:") and data[2:] in BUTTON_COMMANDS:
            return Response(await self._on_command(data[2:], ""))
        if tr.belongs(data):
            draft = await self._load_thought()
            if draft is not None:
                outcome = tr.handle(draft, Choice(data), _new_id)
                if not outcome.expired:
                    self.user.active_flow = THOUGHT  # a live step's button brings them back
                    return Response(await self._apply_thought(outcome, draft))
        elif data.startswith("Z:") and self.user.active_flow in (ONBOARDING, TIMEZONE):
            zone = data[2:]
            if zone in {z for _, z in load("messages")["timezone_buttons"]}:
                return Response(self._set_zone(zone))
        elif (parsed := history.parse_choice(data)) is not None:
            replies = await self._history_choice(*parsed)
            if replies is not None:
                return Response(replies)
        return await self._expired()

    async def _expired(self) -> Response:
        notice = _text("expired_plain")
        if self.user.active_flow == THOUGHT and (draft := await self._load_thought()):
            outcome = tr.prompt_again(draft, _text("expired"))
            return Response(await self._apply_thought(outcome, draft), notice)
        return Response([Reply(notice)], notice)

    # ── the thought record ─────────────────────────────────────────────────────

    async def _thought(self, _args: str) -> list[Reply]:
        draft = await self._load_thought()
        outcome = tr.offer_resume(draft) if draft is not None else tr.start(_new_id())
        return await self._apply_thought(outcome, draft)

    async def _feed_thought(self, event: Event) -> list[Reply]:
        draft = await self._load_thought()
        if draft is None:  # the draft went away (finished in another tab, say)
            self.user.active_flow = None
            return [Reply(_text("fallback"))]
        return await self._apply_thought(tr.handle(draft, event, _new_id), draft)

    async def _load_thought(self) -> tr.ThoughtDraft | None:
        if not self._draft_loaded:
            self._draft = await repo.load_draft(self.session, self.user.id, THOUGHT)
            self._draft_loaded = True
        if self._draft is None:
            return None
        try:
            return tr.ThoughtDraft.model_validate_json(self._draft.state)
        except ValidationError:
            # Keep the unreadable draft for the operator to recover; never delete words.
            log.error("unreadable thought draft for user row %s set aside", self.user.id)
            self._draft.flow = f"{THOUGHT}-unreadable-{int(self.now.timestamp())}"
            await self.session.flush()
            self._draft = None
            return None

    async def _apply_thought(
        self, outcome: tr.Outcome, before: tr.ThoughtDraft | None
    ) -> list[Reply]:
        """Stores what the step produced (draft, finished record, or nothing) in this
        transaction; the replies go out only after it commits."""
        row = self._draft
        if outcome.saved is not None:
            started = row.created_at if row is not None else self.now
            await repo.add_thought_record(
                self.session, self.user.id, _record_fields(outcome.saved, started, self.now)
            )
        if outcome.state is None:
            if row is not None:
                await self.session.delete(row)
            self._draft = None
            self.user.active_flow = None
            return list(outcome.replies)
        if row is not None and before is not None and before.id != outcome.state.id:
            row.created_at = self.now  # started over: a new record begins now
        self._draft = repo.save_draft(
            self.session, row, self.user.id, THOUGHT, outcome.state.model_dump_json(), self.now
        )
        self.user.active_flow = THOUGHT
        return list(outcome.replies)

    # ── history ────────────────────────────────────────────────────────────────

    async def _history(self, args: str) -> list[Reply]:
        page = int(args) - 1 if args.isdecimal() and len(args) < 6 else 0
        return [await self._history_page(page, replace=False)]

    async def _history_page(self, page: int, *, replace: bool) -> Reply:
        total = await repo.count_thought_records(self.session, self.user.id)
        page = history.clamp_page(page, total)
        records = await repo.list_thought_records(
            self.session, self.user.id, offset=page * history.PAGE_SIZE, limit=history.PAGE_SIZE
        )
        entries = [history.Entry(r.id, self._local(r.completed_at), r.hot_thought) for r in records]
        return history.listing(entries, page, total, replace=replace)

    async def _history_choice(self, kind: str, value: int) -> list[Reply] | None:
        if kind == "p":
            return [await self._history_page(value, replace=True)]
        record = await repo.get_thought_record(self.session, self.user.id, value)
        if record is None:
            return None
        when = self._local(record.completed_at)
        return [Reply(format_record(_answers_of(record), short=False, when=when))]

    # ── time zone, welcome, help ───────────────────────────────────────────────

    def _zone_name(self) -> str:
        return self.user.timezone or self.service.settings.default_timezone

    def _local(self, instant: datetime) -> datetime:
        return instant.astimezone(ZoneInfo(self._zone_name()))

    def _ask_zone(self, lead: list[Reply]) -> list[Reply]:
        buttons = [
            Button(label, f"Z:{zone}") for label, zone in load("messages")["timezone_buttons"]
        ]
        return [
            *lead,
            Reply(_text("ask_timezone"), rows(buttons, 2)),
            Reply(_text("ask_location"), ask_location=True),
        ]

    def _set_zone(self, zone: str) -> list[Reply]:
        onboarding = self.user.active_flow == ONBOARDING
        self.user.timezone = zone
        self.user.active_flow = None
        done = _text("timezone_set", zone=zone, local_time=f"{self._local(self.now):%H:%M}")
        if onboarding:
            return [Reply(done, remove_keyboard=True), _help_reply()]
        return [Reply(done, remove_keyboard=True)]

    async def _start(self, _args: str) -> list[Reply]:
        welcome = Reply(_text("welcome"))
        if self.user.timezone is not None:
            current = _text(
                "timezone_current",
                zone=self.user.timezone,
                local_time=f"{self._local(self.now):%H:%M}",
            )
            return [welcome, Reply(current), _help_reply()]
        self.user.active_flow = ONBOARDING
        return self._ask_zone([welcome])

    async def _timezone(self, args: str) -> list[Reply]:
        if args:
            zone = await asyncio.to_thread(timezones.resolve, args)
            if zone is None:
                return [Reply(_text("timezone_unknown", text=args[:60]))]
            self.user.active_flow = TIMEZONE
            return self._set_zone(zone)
        self.user.active_flow = TIMEZONE
        current = _text(
            "timezone_current", zone=self._zone_name(), local_time=f"{self._local(self.now):%H:%M}"
        )
        return self._ask_zone([Reply(current)])

    async def _help(self, _args: str) -> list[Reply]:
        return [_help_reply()]

    async def _privacy(self, _args: str) -> list[Reply]:
        return [Reply(_text("privacy", operator=self.service.settings.operator_name))]


def _help_reply() -> Reply:
    """The help text with its commands as buttons, so nobody has to type."""
    buttons = [Button(label, f"C:{command}") for command, label in load("messages")["help_buttons"]]
    return Reply(_text("help"), rows(buttons, 2))


def _new_id() -> str:
    return secrets.token_hex(3)


def _record_fields(answers: RecordAnswers, started: datetime, completed: datetime) -> dict:
    return {
        "started_at": started,
        "completed_at": completed,
        "situation": answers.situation or "",
        "emotions": json.dumps([e.model_dump() for e in answers.emotions], ensure_ascii=False),
        "hot_thought": answers.hot_thought or "",
        "evidence_for": answers.evidence_for or "",
        "evidence_against": answers.evidence_against or "",
        "traps": json.dumps(answers.traps),
        "balanced_thought": answers.balanced_thought or "",
        "belief": answers.belief,
    }


def _answers_of(record: ThoughtRecord) -> RecordAnswers:
    return RecordAnswers(
        situation=record.situation,
        emotions=[Emotion.model_validate(e) for e in json.loads(record.emotions)],
        hot_thought=record.hot_thought,
        evidence_for=record.evidence_for,
        evidence_against=record.evidence_against,
        traps=json.loads(record.traps),
        balanced_thought=record.balanced_thought,
        belief=record.belief,
    )
