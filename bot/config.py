"""Typed configuration: YAML file, then environment overrides, validated once at start.

A mistake stops the start with one line per problem naming the key and the fix, because
the person reading it is an operator at a terminal, not a Python developer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from flows.schedule import parse_days, parse_time
from flows.timezones import is_valid

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///coach.db"
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "COACH_TELEGRAM_TOKEN": ("telegram", "token"),
    "COACH_TELEGRAM_BASE_URL": ("telegram", "base_url"),
    "COACH_DATABASE_URL": ("database", "url"),
    "COACH_LOG_LEVEL": ("logging", "level"),
    "COACH_DATA_KEY": ("security", "data_key"),
}
WEBHOOK_SECRET_ENV = "COACH_WEBHOOK_SECRET"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookConfig(_Section):
    listen: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    path: str = "/telegram"
    public_url: str = ""  # https://coach.example.org — Telegram posts to public_url + path
    secret_token: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,256}$")
    # Updates Telegram posts at once (each chat's still one at a time); Telegram's own range.
    max_connections: int = Field(default=40, ge=1, le=100)

    @field_validator("path")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /, e.g. /telegram")
        return value


class TelegramConfig(_Section):
    mode: Literal["polling", "webhook"] = "polling"
    webhook: WebhookConfig = WebhookConfig()
    token: str = ""
    bot_username: str = ""  # for invite links (t.me/<bot_username>?start=CODE)
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    poll_timeout: float = Field(default=30.0, gt=0, le=50)
    concurrent_updates: int = Field(default=64, ge=1, le=1024)

    @field_validator("base_url", "base_file_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


class DatabaseConfig(_Section):
    url: str = DEFAULT_DATABASE_URL

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith(("sqlite:", "sqlite+pysqlite:")):
            raise ValueError("use the async driver: sqlite+aiosqlite:///coach.db")
        if value.startswith(("postgresql:", "postgres:", "postgresql+psycopg")):
            raise ValueError("use the async driver: postgresql+asyncpg://user:pass@host/db")
        if not value.startswith(("sqlite+aiosqlite:", "postgresql+asyncpg:")):
            raise ValueError("must be sqlite+aiosqlite:///FILE or postgresql+asyncpg://…")
        return value


class ReminderDefault(_Section):
    """A standard homework item offered at the end of /start."""

    days: str
    time: str
    person: str | None = None

    @field_validator("days")
    @classmethod
    def _days(cls, value: str) -> str:
        if parse_days(value) is None:
            raise ValueError(f"'{value}' is not days: use daily, weekdays, weekends or mon,wed,fri")
        return value

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        if parse_time(value) is None:
            raise ValueError(f"'{value}' is not a time: use 24-hour HH:MM, e.g. 09:00")
        return value


class RemindersDefaults(_Section):
    compassion: ReminderDefault = ReminderDefault(days="daily", time="09:00")
    walk: ReminderDefault = ReminderDefault(days="mon,wed,fri", time="17:30")
    call: ReminderDefault = ReminderDefault(days="sun", time="18:00", person="your kids")
    weekly_summary: ReminderDefault = ReminderDefault(days="sun", time="19:00")


class DefaultsConfig(_Section):
    timezone: str = "Europe/London"
    reminders: RemindersDefaults = RemindersDefaults()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not is_valid(value):
            raise ValueError(f"'{value}' is not an IANA time zone, e.g. Europe/London")
        return value


class NudgesConfig(_Section):
    tick_seconds: float = Field(default=20.0, gt=0, le=300)
    grace_minutes: int = Field(default=120, ge=1)
    snooze_minutes: int = Field(default=60, ge=1, le=24 * 60)
    missed_after_hours: int = Field(default=24, ge=1)
    max_per_second: float = Field(default=25.0, gt=0, le=30)
    pause_all_days: int = Field(default=7, ge=1, le=90)


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class SafetyConfig(_Section):
    # Replaces the default list of crisis resources (keep it short; one line each).
    resources: str | None = None
    # More phrases that should trigger the crisis reply, matched as whole words, any case.
    extra_phrases: list[str] = Field(default_factory=list)


class AccessConfig(_Section):
    mode: Literal["open", "allowlist", "invite"] = "open"
    allowlist: list[int] = Field(default_factory=list)


class SecurityConfig(_Section):
    # Fernet keys, comma-separated, newest first. Empty: a key file is used (made if absent).
    data_key: str = ""
    # Where that key file lives. Empty: beside the SQLite database, or ./coach.key.
    key_file: str = ""


class OperatorConfig(_Section):
    name: str = "the person or clinic who runs this bot"


class Config(_Section):
    telegram: TelegramConfig = TelegramConfig()
    database: DatabaseConfig = DatabaseConfig()
    defaults: DefaultsConfig = DefaultsConfig()
    nudges: NudgesConfig = NudgesConfig()
    logging: LoggingConfig = LoggingConfig()
    operator: OperatorConfig = OperatorConfig()
    safety: SafetyConfig = SafetyConfig()
    access: AccessConfig = AccessConfig()
    security: SecurityConfig = SecurityConfig()


class ConfigError(Exception):
    """Raised with a message meant to be printed as is."""


_FIXES = {
    "extra_forbidden": "unknown key — check its spelling against config.example.yaml",
    "missing": "this key is required — see config.example.yaml",
}


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        fix = _FIXES.get(item["type"], item["msg"].removeprefix("Value error, "))
        lines.append(f"config error: {key}: {fix}")
    return "\n".join(lines)


def load_config(path: Path | None, env: dict[str, str] | None = None) -> Config:
    """Reads the YAML file (if any), applies COACH_* environment variables, validates."""
    env = dict(os.environ) if env is None else env
    data: dict[str, Any] = {}
    if path is not None:
        if not path.exists():
            raise ConfigError(
                f"config error: {path} not found — copy config.example.yaml to {path} and edit it"
            )
        try:
            loaded = yaml.safe_load(path.read_text("utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(
                f"config error: {path} is not valid YAML{where} — check indentation and colons"
            ) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config error: {path} must hold sections like 'telegram:'")
        data = loaded or {}
        # A section whose keys are all commented out reads as null: it means "defaults".
        data = {key: ({} if value is None else value) for key, value in data.items()}
    if env.get(WEBHOOK_SECRET_ENV):
        telegram = data.setdefault("telegram", {})
        if isinstance(telegram, dict):
            webhook = telegram.setdefault("webhook", {})
            if isinstance(webhook, dict):
                webhook["secret_token"] = env[WEBHOOK_SECRET_ENV]
    for variable, (section, key) in ENV_OVERRIDES.items():
        if env.get(variable):
            block = data.setdefault(section, {})
            if not isinstance(block, dict):
                raise ConfigError(f"config error: {section}: must be a section of keys")
            block[key] = env[variable]
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def require_token(config: Config) -> str:
    token = config.telegram.token.strip()
    if not token:
        raise ConfigError(
            "config error: telegram.token is empty — put your BotFather token in the config "
            "file or set COACH_TELEGRAM_TOKEN (or try `coach chat`, which needs no token)"
        )
    if ":" not in token:
        raise ConfigError(
            "config error: telegram.token doesn't look like a bot token (123456:ABC…) — "
            "copy it again from BotFather"
        )
    return token


def require_webhook(config: Config) -> None:
    """Webhook mode needs an address Telegram can reach and a secret only it knows."""
    hook = config.telegram.webhook
    if config.telegram.mode != "webhook":
        return
    if not hook.public_url.startswith(("https://", "http://")):
        raise ConfigError(
            "config error: telegram.webhook.public_url is empty — set the https:// address "
            "Telegram should post to (without the path), e.g. https://coach.example.org"
        )
    if len(hook.secret_token) < 16:
        raise ConfigError(
            "config error: telegram.webhook.secret_token is too short — set 16 or more letters, "
            "digits, _ or - (or COACH_WEBHOOK_SECRET); requests without it are refused"
        )
