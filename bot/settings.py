"""What the conversation service needs to know from the config, in one immutable place."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.config import Config
from bot.dispatcher import NudgeSettings
from flows.safety import Detector
from flows.schedule import parse_days


@dataclass(frozen=True)
class ReminderPreset:
    days: int
    time: str
    person: str | None = None


def _presets() -> dict[str, ReminderPreset]:
    return {
        "compassion": ReminderPreset(0b1111111, "09:00"),
        "walk": ReminderPreset(0b0010101, "17:30"),
        "call": ReminderPreset(0b1000000, "18:00", "your kids"),
        "summary": ReminderPreset(0b1000000, "19:00"),
    }


@dataclass(frozen=True)
class Settings:
    default_timezone: str = "Europe/London"
    operator_name: str = "the person or clinic who runs this bot"
    pause_all_days: int = 7
    presets: dict[str, ReminderPreset] = field(default_factory=_presets)
    nudges: NudgeSettings = field(default_factory=NudgeSettings)
    detector: Detector = field(default_factory=Detector)
    crisis_resources: str | None = None
    access_mode: str = "open"
    allowlist: frozenset[int] = frozenset()

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        reminders = config.defaults.reminders
        presets = {
            kind: ReminderPreset(parse_days(d.days) or 0b1111111, d.time, d.person)
            for kind, d in (
                ("compassion", reminders.compassion),
                ("walk", reminders.walk),
                ("call", reminders.call),
                ("summary", reminders.weekly_summary),
            )
        }
        n = config.nudges
        return cls(
            default_timezone=config.defaults.timezone,
            operator_name=config.operator.name,
            pause_all_days=n.pause_all_days,
            presets=presets,
            nudges=NudgeSettings(
                grace=timedelta(minutes=n.grace_minutes),
                snooze=timedelta(minutes=n.snooze_minutes),
                missed_after=timedelta(hours=n.missed_after_hours),
                max_per_second=n.max_per_second,
                default_timezone=config.defaults.timezone,
            ),
            detector=Detector(config.safety.extra_phrases),
            crisis_resources=config.safety.resources,
            access_mode=config.access.mode,
            allowlist=frozenset(config.access.allowlist),
        )
