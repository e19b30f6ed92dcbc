"""Thought records inside the service: drafts in, records out, and reading them back."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime

from pydantic import ValidationError

from bot.progress import ProgressTurn
from bot.turn import say
from flows import history
from flows import thought_record as tr
from flows.events import Event
from flows.record import Emotion, RecordAnswers, format_record
from flows.replies import Reply
from storage import repo
from storage.models import ThoughtRecord

log = logging.getLogger(__name__)

THOUGHT = "thought"


class ThoughtTurn(ProgressTurn):
    async def thought(self, _args: str) -> list[Reply]:
        draft = await self.load_thought()
        outcome = tr.offer_resume(draft) if draft is not None else tr.start(new_id())
        return await self.apply_thought(outcome, draft)

    async def feed_thought(self, event: Event) -> list[Reply]:
        draft = await self.load_thought()
        if draft is None:  # the draft went away (finished in another process, say)
            self.set_flow(None)
            return [Reply(say("fallback"))]
        return await self.apply_thought(tr.handle(draft, event, new_id), draft)

    async def load_thought(self) -> tr.ThoughtDraft | None:
        row = await self.draft_row(THOUGHT)
        if row is None:
            return None
        try:
            return tr.ThoughtDraft.model_validate_json(row.state)
        except ValidationError:
            # Keep the unreadable draft for the operator to recover; never delete words.
            log.error("unreadable thought draft for user row %s set aside", self.user.id)
            row.flow = f"{THOUGHT}-unreadable-{int(self.now.timestamp())}"
            await self.session.flush()
            self._drafts[THOUGHT] = None
            return None

    async def apply_thought(
        self, outcome: tr.Outcome, before: tr.ThoughtDraft | None
    ) -> list[Reply]:
        """Stores what the step produced (draft, finished record, or nothing) in this
        transaction; the replies go out only after it commits."""
        row = await self.draft_row(THOUGHT)
        if outcome.saved is not None:
            started = row.created_at if row is not None else self.now
            await repo.add_thought_record(
                self.session, self.user.id, record_fields(outcome.saved, started, self.now)
            )
        if outcome.state is None:
            await self.drop_draft(THOUGHT)
            self.set_flow(None)
            return list(outcome.replies)
        if row is not None and before is not None and before.id != outcome.state.id:
            row.created_at = self.now  # started over: a new record begins now
        await self.store_draft(THOUGHT, outcome.state.model_dump_json())
        self.set_flow(THOUGHT)
        replies = list(outcome.replies)
        arrived = outcome.state.step == "evidence_against" and outcome.state.mode == "answer"
        if arrived and (before is None or before.step != "evidence_against"):
            offer = await self.wins_offer()
            if offer is not None:
                replies.insert(len(replies) - 1, offer)  # just before the question
        return replies

    async def parked_notice(self) -> str | None:
        draft = await self.load_thought()
        return tr.parked_notice(draft) if draft is not None else None

    # ── history ────────────────────────────────────────────────────────────────

    async def history(self, args: str) -> list[Reply]:
        page = int(args) - 1 if args.isdecimal() and len(args) < 6 else 0
        return [await self.history_page(page, replace=False)]

    async def history_page(self, page: int, *, replace: bool) -> Reply:
        total = await repo.count_thought_records(self.session, self.user.id)
        page = history.clamp_page(page, total)
        records = await repo.list_thought_records(
            self.session, self.user.id, offset=page * history.PAGE_SIZE, limit=history.PAGE_SIZE
        )
        entries = [history.Entry(r.id, self.local(r.completed_at), r.hot_thought) for r in records]
        return history.listing(entries, page, total, replace=replace)

    async def history_choice(self, kind: str, value: int) -> list[Reply] | None:
        if kind == "p":
            return [await self.history_page(value, replace=True)]
        record = await repo.get_thought_record(self.session, self.user.id, value)
        if record is None:
            return None
        when = self.local(record.completed_at)
        return [Reply(format_record(answers_of(record), short=False, when=when))]


def new_id() -> str:
    return secrets.token_hex(3)


def record_fields(answers: RecordAnswers, started: datetime, completed: datetime) -> dict:
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


def answers_of(record: ThoughtRecord) -> RecordAnswers:
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
