"""`coach chat` as an operator or therapist runs it: a subprocess, stdin in, stdout out."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage import migrate

RECORD = [
    "/thought",
    "Tuesday at work, two mistakes pointed out in the meeting.",
    "frustrated 80, ashamed 60",
    "I'm useless at this job.",
]
REST = [
    "I made two mistakes.",
    "The rest of the report was fine.",
    "skip",
    "Two fixable mistakes are normal.",
    "70",
    "40",
    "30",
]


def run_chat(tmp_path: Path, lines: list[str], *extra: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.yaml"
    config.write_text(f'database:\n  url: "sqlite+aiosqlite:///{tmp_path / "coach.db"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--config", str(config), *extra],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_a_whole_record_in_the_terminal_survives_a_restart(tmp_path: Path):
    first = run_chat(tmp_path, ["/start", "Berlin", *RECORD])
    assert first.returncode == 0, first.stderr
    key = tmp_path / "coach.key"  # no key configured: made beside the database, said once
    assert f"created a data key at {key}" in first.stderr
    assert key.stat().st_mode & 0o777 == 0o600
    assert "Your time zone is Europe/Berlin" in first.stdout
    assert "Step 4 of 9" in first.stdout
    assert "everything you wrote is saved" in first.stdout

    second = run_chat(tmp_path, ["/thought", "#1", *REST])
    assert second.returncode == 0, second.stderr
    assert "created a data key" not in second.stderr
    assert "(step 4 of 9)" in second.stdout
    assert "Tuesday at work" in second.stdout  # the recap of earlier answers
    assert "frustrated 80 → 40 (−40)" in second.stdout
    assert "ashamed 60 → 30 (−30)" in second.stdout
    assert "Saved" in second.stdout

    history = run_chat(tmp_path, ["/history", "#1"])
    assert "I'm useless at this job." in history.stdout
    assert "The rest of the report was fine." in history.stdout


def test_buttons_are_numbered_and_picked_with_a_hash(tmp_path: Path):
    result = run_chat(tmp_path, ["/thought", "A situation", "#1", "#8", "#99"])
    assert "[#1 sad]" in result.stdout
    assert "How strong was sad?" in result.stdout
    assert "Got it: sad 70" in result.stdout
    assert "(There is no button #99.)" in result.stdout


@pytest.mark.parametrize(
    ("config_text", "expected"),
    [
        ("telegram:\n  tokn: x\n", "config error: telegram.tokn: unknown key"),
        ('database:\n  url: "sqlite:///coach.db"\n', "config error: database.url: use the async"),
        ("defaults:\n  timezone: Mars/Olympus\n", "config error: defaults.timezone:"),
        ("telegram: [\n", "is not valid YAML"),
    ],
)
def test_a_bad_config_stops_with_one_line_naming_the_key(tmp_path, config_text, expected):
    config = tmp_path / "config.yaml"
    config.write_text(config_text)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_run_without_a_token_explains_how_to_give_one(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 2
    assert "telegram.token is empty" in result.stderr and "COACH_TELEGRAM_TOKEN" in result.stderr


def test_db_upgrade_reports_the_revision(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env["COACH_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert f"database is at revision {migrate.head()}" in result.stdout


async def test_the_terminal_gets_its_own_nudges_and_answers_them(db_url, clock):
    from datetime import UTC, datetime

    from bot.config import Config
    from bot.dispatcher import Dispatcher
    from bot.runner import open_service
    from bot.service import Incoming
    from bot.terminal import TerminalChat, TerminalSender

    config = Config.model_validate({"database": {"url": db_url}})
    clock.current = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    async with open_service(config, clock) as service:
        out = io.StringIO()
        chat = TerminalChat(service, 0, out)
        await chat.handle_line("/remind compassion 09:00")
        await service.handle(Incoming(555, text="/remind walk daily 09:00"))  # a Telegram user
        dispatcher = Dispatcher(
            service.db, clock, TerminalSender(chat), service.settings.nudges, only_user=0
        )
        clock.current = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
        report = await dispatcher.tick()
        assert report.sent == 1  # only the terminal's own user
        assert "A moment of self-compassion" in out.getvalue()
        assert "[#1 ✅ Done]" in out.getvalue()
        await chat.handle_line("#1")
        assert "Thank you for taking that moment for yourself" in out.getvalue()


def test_check_reports_what_it_finds(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env["COACH_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    env["COACH_TELEGRAM_TOKEN"] = "123:abc"

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "check"],
            capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path, env=env,
        )  # fmt: skip

    before = check()
    assert before.returncode == 1 and "migrations: at None" in before.stdout
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        capture_output=True, timeout=60, check=True, cwd=tmp_path, env=env,
    )  # fmt: skip
    after = check()
    assert after.returncode == 0, after.stdout
    assert "database: reachable" in after.stdout and "migrations: up to date" in after.stdout
    assert "all good" in after.stdout
