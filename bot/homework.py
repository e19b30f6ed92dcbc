"""Homework inside the service: /remind, /reminders, /quiet, the offer at the end of /start,
and the client's answers to nudges (buttons, typed "done", journal lines)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field

from bot.dispatcher import plan, quiet_of
from bot.turn import TurnBase, help_reply
from flows import homework as hw
from flows.parsing import parse_id
from flows.replies import Reply
from flows.schedule import after_quiet, describe_days, parse_quiet, parse_time
from storage import homework as store
from storage.models import Nudge, Schedule

HOMEWORK = "homework"
NOTE_WINDOW = timedelta(hours=1)  # a line typed this soon after answering is kept as its note


class HomeworkState(BaseModel):
    """The small dialogue around reminders: which kind, what we are waiting for."""

    mode: str = "remind"  # "remind" (a single reminder) or "setup" (the three after /start)
    kind: str | None = None
    awaiting: str = "choice"  # "choice" | "when" | "person"
    queue: list[str] = Field(default_factory=list)  # setup: kinds still to offer, current first
    days: int | None = None  # chosen, waiting for the person to call
    time: str | None = None


class HomeworkTurn(TurnBase):
    # ── dialogue state ─────────────────────────────────────────────────────────

    async def _state(self) -> HomeworkState | None:
        row = await self.draft_row(HOMEWORK)
        return HomeworkState.model_validate_json(row.state) if row is not None else None

    async def _keep(self, state: HomeworkState) -> None:
        await self.store_draft(HOMEWORK, state.model_dump_json())
        self.set_flow(HOMEWORK)

    async def _done_with_dialogue(self) -> None:
        await self.drop_draft(HOMEWORK)
        self.set_flow(None)

    # ── /remind, /reminders, /quiet ────────────────────────────────────────────

    def _default_days(self) -> dict[str, int]:
        return {kind: preset.days for kind, preset in self.settings.presets.items()}

    async def remind(self, args: str) -> list[Reply]:
        request = hw.parse_remind(args, self._default_days())
        if request is None:
            await self._keep(HomeworkState())
            return [hw.kind_menu("K")]
        if isinstance(request, hw.RemindError):
            return [Reply(request.message)]
        state = HomeworkState(kind=request.kind, awaiting="when")
        return await self._when_given(state, request)

    async def reminders(self, _args: str) -> list[Reply]:
        views = [
            hw.ReminderView(
                s.kind,
                s.days,
                s.local_time,
                s.person,
                s.active,
                self.local(s.next_due_at) if s.next_due_at else None,
            )
            for s in await store.schedules_of(self.session, self.user.id)
        ]
        paused = self.user.paused_until
        paused_local = self.local(paused) if paused and paused > self.now else None
        return [
            hw.reminders_list(
                views, paused_local, quiet_of(self.user), self.settings.pause_all_days
            )
        ]

    async def quiet(self, args: str) -> list[Reply]:
        word = args.strip().lower()
        if not word:
            current = quiet_of(self.user)
            if current is None:
                return [Reply(hw.text("quiet.none"))]
            return [Reply(hw.text("quiet.show", quiet=current))]
        if word in ("off", "none", "no"):
            self.user.quiet_start = self.user.quiet_end = None
            await self.replan_all()
            return [Reply(hw.text("quiet.off"))]
        quiet = parse_quiet(word)
        if quiet is None:
            return [Reply(hw.text("quiet.bad"))]
        self.user.quiet_start, self.user.quiet_end = f"{quiet.start:%H:%M}", f"{quiet.end:%H:%M}"
        await self.replan_all()
        return [Reply(hw.text("quiet.set", quiet=quiet))]

    async def replan_all(self) -> None:
        """Moves every active reminder to the user's current wall clock and quiet hours."""
        for schedule in await store.schedules_of(self.session, self.user.id):
            if schedule.active:
                plan(schedule, self.user, self.now, self.settings.default_timezone)

    # ── the offer at the end of /start ─────────────────────────────────────────

    async def start_setup(self) -> list[Reply]:
        state = HomeworkState(mode="setup", queue=list(hw.KINDS))
        await self._keep(state)
        return [Reply(hw.text("setup.intro")), self._offer(state.queue[0])]

    def _offer(self, kind: str) -> Reply:
        preset = self.settings.presets[kind]
        return hw.setup_offer(kind, preset.days, preset.time)

    async def _next_in_setup(self, state: HomeworkState, lead: list[Reply]) -> list[Reply]:
        queue = state.queue[1:]
        if queue:
            await self._keep(HomeworkState(mode="setup", queue=queue))
            return [*lead, self._offer(queue[0])]
        await self._done_with_dialogue()
        summary = self.settings.presets[hw.SUMMARY]
        if await store.schedule_of(self.session, self.user.id, hw.SUMMARY) is None:
            lead.append(await self._save(hw.SUMMARY, summary.days, summary.time, None))
        return [*lead, Reply(hw.text("setup.done")), help_reply()]

    async def _setup_choice(self, kind: str, action: str) -> list[Reply] | None:
        state = await self._state()
        if state is None or state.mode != "setup" or not state.queue or state.queue[0] != kind:
            return None
        if action == "y":
            preset = self.settings.presets[kind]
            at = parse_time(preset.time)
            assert at is not None, "presets are validated with the config"
            request = hw.RemindRequest(kind, preset.days, at, None)
            return await self._when_given(state.model_copy(update={"kind": kind}), request)
        if action == "c":
            await self._keep(state.model_copy(update={"kind": kind, "awaiting": "when"}))
            return [Reply(hw.text("remind.ask_when"))]
        if action == "s":
            return await self._next_in_setup(state, [Reply(hw.text("setup.skipped", kind=kind))])
        return None

    # ── choosing kind, time and person ─────────────────────────────────────────

    async def _when_given(self, state: HomeworkState, request: hw.RemindRequest) -> list[Reply]:
        """Days and time are known: save, unless a call still needs someone to call."""
        at = f"{request.at:%H:%M}"
        person = request.person
        if request.kind == "call" and person is None:
            existing = await store.schedule_of(self.session, self.user.id, "call")
            person = existing.person if existing is not None else None
        if request.kind == "call" and person is None:
            await self._keep(
                state.model_copy(update={"awaiting": "person", "days": request.days, "time": at})
            )
            return [hw.person_menu("P")]
        saved = await self._save(request.kind, request.days, at, person)
        if state.mode == "setup":
            return await self._next_in_setup(state, [saved])
        await self._done_with_dialogue()
        return [saved]

    async def _save(self, kind: str, days: int, at: str, person: str | None) -> Reply:
        schedule = await store.schedule_of(self.session, self.user.id, kind)
        if schedule is None:
            schedule = Schedule(
                user_id=self.user.id, kind=kind, days=days, local_time=at, created_at=self.now
            )
            self.session.add(schedule)
        schedule.days, schedule.local_time, schedule.active = days, at, True
        if person is not None:
            schedule.person = person
        plan(schedule, self.user, self.now, self.settings.default_timezone)
        await self.session.flush()
        assert schedule.next_due_at is not None
        next_local = f"{self.local(schedule.next_due_at):%a %d %b %H:%M}"
        values: dict[str, Any] = {
            "icon": hw.kind_icon(kind),
            "name": hw.kind_name(kind),
            "days": describe_days(days),
            "time": at,
            "next": next_local,
            "person": schedule.person,
        }
        return Reply(hw.text("remind.saved_call" if kind == "call" else "remind.saved", **values))

    async def homework_text(self, typed: str) -> list[Reply]:
        """Plain text while a reminder dialogue waits for a time or a person."""
        state = await self._state()
        if state is None or state.kind is None or state.awaiting == "choice":
            await self._done_with_dialogue()
            return await self.nudge_text(typed) or [Reply(hw.text("remind.menu"))]
        if state.awaiting == "person":
            return await self._save_person(state, " ".join(typed.split())[:60])
        parsed = hw.parse_when(state.kind, typed.split(), self._default_days()[state.kind])
        if isinstance(parsed, hw.RemindError):
            return [Reply(parsed.message)]
        return await self._when_given(state, parsed)

    async def _save_person(self, state: HomeworkState, person: str) -> list[Reply]:
        """The last piece of a call reminder: who. Days and time were chosen before."""
        if state.kind is None or state.days is None or state.time is None or not person:
            await self._done_with_dialogue()
            return [Reply(hw.text("remind.help"))]
        saved = await self._save(state.kind, state.days, state.time, person)
        if state.mode == "setup":
            return await self._next_in_setup(state, [saved])
        await self._done_with_dialogue()
        return [saved]

    # ── buttons ────────────────────────────────────────────────────────────────

    async def homework_choice(self, data: str) -> list[Reply] | None:
        """Handles N:, F:, R:, K:, P:, S: buttons; None means expired or not ours."""
        prefix, _, rest = data.partition(":")
        first, _, second = rest.partition(":")
        nudge_id = parse_id(first)
        if prefix == "N" and nudge_id is not None and second in ("d", "z", "s"):
            return await self._nudge_button(nudge_id, second)
        if prefix == "F" and nudge_id is not None:
            return await self._follow_up(nudge_id, second)
        if prefix == "R":
            return await self._reminder_button(first, second)
        if prefix == "K" and first in hw.KINDS:
            await self._keep(HomeworkState(kind=first, awaiting="when"))
            return [Reply(hw.text("remind.ask_when"))]
        if prefix == "P":
            state = await self._state()
            person = hw.person_choice(first)
            if state is None or state.awaiting != "person" or person is None:
                return None
            return await self._save_person(state, person)
        if prefix == "S" and first in hw.KINDS:
            return await self._setup_choice(first, second)
        return None

    async def _reminder_button(self, kind: str, action: str) -> list[Reply] | None:
        if kind == "all":
            if action == "p":
                self.user.paused_until = self.now + timedelta(days=self.settings.pause_all_days)
                until = f"{self.local(self.user.paused_until):%a %d %b %H:%M}"
                return [Reply(hw.text("reminders.paused_all", until=until))]
            if action == "r":
                self.user.paused_until = None
                return [Reply(hw.text("reminders.resumed_all"))]
            return None
        schedule = await store.schedule_of(self.session, self.user.id, kind)
        if schedule is None:
            return None
        name = hw.kind_name(kind)
        if action == "p":
            schedule.active = False
            return [Reply(hw.text("reminders.paused_one", name=name))]
        if action == "r":
            schedule.active = True
            plan(schedule, self.user, self.now, self.settings.default_timezone)
            assert schedule.next_due_at is not None
            next_local = f"{self.local(schedule.next_due_at):%a %d %b %H:%M}"
            return [Reply(hw.text("reminders.resumed_one", name=name, next=next_local))]
        if action == "c":
            await self._keep(HomeworkState(kind=kind, awaiting="when"))
            return [Reply(hw.text("remind.ask_when"))]
        if action == "x":
            await self.session.delete(schedule)
            return [Reply(hw.text("reminders.deleted", name=name, kind=kind))]
        return None

    # ── answering nudges ───────────────────────────────────────────────────────

    async def _nudge_button(self, nudge_id: int, action: str) -> list[Reply] | None:
        nudge = await store.nudge_of(self.session, self.user.id, nudge_id)
        if nudge is None:
            return None
        if nudge.status not in store.ANSWERABLE or nudge.expires_at <= self.now:
            status = "missed" if nudge.status in store.ANSWERABLE else nudge.status
            words = hw.text(f"status_words.{status}")
            return [Reply(hw.text("replies.already", status=words))]
        answer: hw.Answer = {"d": "done", "z": "later", "s": "skip"}[action]  # type: ignore[assignment]
        return await self._answer(nudge, answer)

    async def _answer(self, nudge: Nudge, answer: hw.Answer) -> list[Reply]:
        if answer == "done":
            nudge.status, nudge.answered_at = "done", self.now
            return [hw.after_done(nudge.kind, nudge.id)]
        if answer == "skip":
            nudge.status, nudge.answered_at = "skipped", self.now
            return [Reply(await self._skipped_text(nudge))]
        resend = after_quiet(
            self.now + self.settings.nudges.snooze, self.zone_name(), quiet_of(self.user)
        )
        nudge.status, nudge.send_at, nudge.claimed_at = "queued", resend, None
        nudge.planned_at = resend  # a new plan: its grace window starts again
        nudge.snoozes += 1
        nudge.expires_at = max(nudge.expires_at, resend + timedelta(hours=1))
        return [Reply(hw.text("replies.snoozed", time=f"{self.local(resend):%H:%M}"))]

    async def _skipped_text(self, nudge: Nudge) -> str:
        schedule = await store.schedule_of(self.session, self.user.id, nudge.kind)
        if schedule is None or not schedule.active or schedule.next_due_at is None:
            return hw.text("replies.skipped_no_next")
        return hw.text("replies.skipped", next=f"{self.local(schedule.next_due_at):%a %H:%M}")

    async def _follow_up(self, nudge_id: int, value: str) -> list[Reply] | None:
        nudge = await store.nudge_of(self.session, self.user.id, nudge_id)
        if nudge is None or nudge.status != "done" or nudge.follow_up is not None:
            return None
        if value not in hw.follow_up_values(nudge.kind):
            return None
        nudge.follow_up = value
        replies = [Reply(hw.text("replies.follow_up_thanks"))]
        if nudge.note is None:
            replies.append(Reply(hw.text("replies.note_prompt")))
        return replies

    async def nudge_text(self, typed: str) -> list[Reply] | None:
        """Plain text with no dialogue open: an answer to a nudge, a journal line, a note."""
        answer = hw.classify(typed)
        open_ones = await store.open_nudges(self.session, self.user.id, self.now)
        if answer is not None:
            if not open_ones:
                return [Reply(hw.text("replies.none_open", word=typed.strip()[:20]))]
            if len({n.kind for n in open_ones}) > 1:
                latest = {}
                for n in open_ones:  # newest first: keep the newest of each kind
                    latest.setdefault(n.kind, n)
                return [hw.which_buttons([(n.id, n.kind) for n in latest.values()], answer)]
            return await self._answer(open_ones[0], answer)
        words = typed.strip()
        if not words:
            return None
        compassion = next((n for n in open_ones if n.kind == "compassion"), None)
        if compassion is not None:
            compassion.status, compassion.answered_at, compassion.note = "done", self.now, words
            return [Reply(hw.text("replies.journal_saved"))]
        recent = await self._recently_answered()
        if recent is not None:
            recent.note = words
            return [Reply(hw.text("replies.note_saved"))]
        return None

    async def _recently_answered(self) -> Nudge | None:
        return await store.recently_answered(
            self.session, self.user.id, self.now - NOTE_WINDOW, ("compassion", "call")
        )
