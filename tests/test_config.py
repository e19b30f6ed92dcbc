"""Loading the operator's configuration: defaults, the YAML file, environment overrides, and
mistakes explained one line per problem."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, ConfigError, load_config, require_token

TOKEN = "123456:ABC-DEF_ghi"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text), "utf-8")
    return path


def config_error(path: Path | None, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(path, env or {})
    message = str(raised.value)
    assert message.strip() == message and message
    assert "Traceback" not in message
    assert "pydantic" not in message.lower()
    assert "validation error" not in message.lower()
    assert 'File "' not in message
    for line in message.splitlines():
        assert line.startswith("config error: "), line
    return message


# ── values ─────────────────────────────────────────────────────────────────────


def test_defaults_without_a_file():
    config = load_config(None, {})
    assert config.telegram.token == ""
    assert config.telegram.base_url == "https://api.telegram.org/bot"
    assert config.telegram.base_file_url == "https://api.telegram.org/file/bot"
    assert config.telegram.poll_timeout == 30
    assert config.telegram.concurrent_updates == 64
    assert config.database.url == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///coach.db"
    assert config.defaults.timezone == "Europe/London"
    assert config.logging.level == "INFO"
    assert config.operator.name


def test_environment_is_read_when_no_env_is_given(monkeypatch):
    monkeypatch.setenv("COACH_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("COACH_LOG_LEVEL", "warning")
    config = load_config(None)
    assert config.telegram.token == TOKEN
    assert config.logging.level == "WARNING"


def test_values_from_the_yaml_file(tmp_path):
    path = write(
        tmp_path,
        f"""
        telegram:
          token: "{TOKEN}"
          base_url: "http://127.0.0.1:8081/bot"
          base_file_url: "http://127.0.0.1:8081/file/bot"
          poll_timeout: 10
          concurrent_updates: 8
        database:
          url: "postgresql+asyncpg://coach:secret@db/coach"
        defaults:
          timezone: "America/Chicago"
        logging:
          level: debug
        operator:
          name: "Riverside Clinic"
        """,
    )
    config = load_config(path, {})
    assert config.telegram.token == TOKEN
    assert config.telegram.base_url == "http://127.0.0.1:8081/bot"
    assert config.telegram.base_file_url == "http://127.0.0.1:8081/file/bot"
    assert config.telegram.poll_timeout == 10
    assert config.telegram.concurrent_updates == 8
    assert config.database.url == "postgresql+asyncpg://coach:secret@db/coach"
    assert config.defaults.timezone == "America/Chicago"
    assert config.logging.level == "DEBUG"
    assert config.operator.name == "Riverside Clinic"


def test_a_partial_file_keeps_the_other_defaults(tmp_path):
    path = write(tmp_path, "operator:\n  name: Dr Lee's practice\n")
    config = load_config(path, {})
    assert config.operator.name == "Dr Lee's practice"
    assert config.database.url == DEFAULT_DATABASE_URL
    assert config.telegram.base_url == "https://api.telegram.org/bot"


@pytest.mark.parametrize("text", ["", "# only comments\n", "---\n"])
def test_an_empty_file_means_defaults(tmp_path, text):
    assert load_config(write(tmp_path, text), {}) == load_config(None, {})


def test_the_example_file_loads(tmp_path):
    example = Path(__file__).resolve().parents[1] / "config.example.yaml"
    if not example.exists():
        pytest.skip("config.example.yaml is not there")
    config = load_config(example, {})
    assert config.database.url.startswith("sqlite+aiosqlite:")


def test_environment_wins_over_the_file(tmp_path):
    path = write(
        tmp_path,
        """
        telegram:
          token: "111:from-file"
        database:
          url: "sqlite+aiosqlite:///file.db"
        """,
    )
    env = {
        "COACH_TELEGRAM_TOKEN": TOKEN,
        "COACH_DATABASE_URL": "postgresql+asyncpg://u:p@host/db",
    }
    config = load_config(path, env)
    assert config.telegram.token == TOKEN
    assert config.database.url == "postgresql+asyncpg://u:p@host/db"


def test_environment_fills_sections_the_file_does_not_have(tmp_path):
    path = write(tmp_path, "operator:\n  name: Clinic\n")
    env = {
        "COACH_TELEGRAM_TOKEN": TOKEN,
        "COACH_TELEGRAM_BASE_URL": "http://localhost:8081/bot",
        "COACH_DATABASE_URL": "sqlite+aiosqlite:///env.db",
        "COACH_LOG_LEVEL": "error",
    }
    config = load_config(path, env)
    assert config.telegram.token == TOKEN
    assert config.telegram.base_url == "http://localhost:8081/bot"
    assert config.database.url == "sqlite+aiosqlite:///env.db"
    assert config.logging.level == "ERROR"
    assert config.operator.name == "Clinic"


def test_empty_environment_values_do_not_override(tmp_path):
    path = write(tmp_path, f'telegram:\n  token: "{TOKEN}"\n')
    config = load_config(path, {"COACH_TELEGRAM_TOKEN": "", "COACH_DATABASE_URL": ""})
    assert config.telegram.token == TOKEN
    assert config.database.url == DEFAULT_DATABASE_URL


def test_unrelated_environment_is_ignored():
    config = load_config(None, {"COACH_SOMETHING": "x", "DATABASE_URL": "sqlite:///x.db"})
    assert config.database.url == DEFAULT_DATABASE_URL


@pytest.mark.parametrize("env", [{}, {"COACH_TELEGRAM_TOKEN": TOKEN}], ids=["file", "env"])
def test_a_section_with_every_key_commented_out_means_defaults(tmp_path, env):
    path = write(
        tmp_path,
        """
        telegram:
          # token: ""   (set COACH_TELEGRAM_TOKEN instead)
        database:
          # url: "sqlite+aiosqlite:///coach.db"
        """,
    )
    config = load_config(path, env)
    assert config.telegram.token == env.get("COACH_TELEGRAM_TOKEN", "")
    assert config.database.url == DEFAULT_DATABASE_URL


# ── mistakes, one line each, naming the key ───────────────────────────────────


def test_unknown_key(tmp_path):
    message = config_error(write(tmp_path, "telegram:\n  tokne: abc\n"))
    assert message.startswith("config error: telegram.tokne: unknown key")
    assert "config.example.yaml" in message


def test_unknown_section(tmp_path):
    message = config_error(write(tmp_path, "webhook:\n  url: https://example.org\n"))
    assert message.startswith("config error: webhook: unknown key")


@pytest.mark.parametrize("url", ["api.telegram.org/bot", "ftp://example.org/bot", ""])
def test_bad_base_url(tmp_path, url):
    message = config_error(write(tmp_path, f'telegram:\n  base_url: "{url}"\n'))
    assert message == "config error: telegram.base_url: must start with http:// or https://"


def test_bad_base_url_from_the_environment():
    message = config_error(None, {"COACH_TELEGRAM_BASE_URL": "localhost:8081"})
    assert message.startswith("config error: telegram.base_url: must start with http://")


@pytest.mark.parametrize("url", ["sqlite:///coach.db", "sqlite+pysqlite:///coach.db"])
def test_sync_sqlite_url(tmp_path, url):
    message = config_error(write(tmp_path, f'database:\n  url: "{url}"\n'))
    assert message.startswith("config error: database.url: use the async driver")
    assert "sqlite+aiosqlite:///" in message


@pytest.mark.parametrize("url", ["postgresql://u:p@h/db", "postgres://u:p@h/db"])
def test_sync_postgres_url(tmp_path, url):
    message = config_error(write(tmp_path, f'database:\n  url: "{url}"\n'))
    assert message.startswith("config error: database.url: use the async driver")
    assert "postgresql+asyncpg://" in message


def test_unknown_database_url_from_the_environment():
    message = config_error(None, {"COACH_DATABASE_URL": "mysql://u:p@h/db"})
    assert message.startswith("config error: database.url: must be sqlite+aiosqlite")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "CET+1", "Europe/london/"])
def test_bad_timezone(tmp_path, zone):
    message = config_error(write(tmp_path, f'defaults:\n  timezone: "{zone}"\n'))
    assert message.startswith("config error: defaults.timezone: ")
    assert zone in message
    assert "Europe/London" in message


def test_bad_log_level(tmp_path):
    message = config_error(write(tmp_path, "logging:\n  level: verbose\n"))
    assert message.startswith("config error: logging.level: ")
    assert "DEBUG" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("telegram:\n  poll_timeout: soon\n", "telegram.poll_timeout"),
        ("telegram:\n  poll_timeout: 0\n", "telegram.poll_timeout"),
        ("telegram:\n  concurrent_updates: 5000\n", "telegram.concurrent_updates"),
        ("telegram: yes\n", "telegram"),
    ],
)
def test_bad_values_name_their_key(tmp_path, text, key):
    message = config_error(write(tmp_path, text))
    assert message.startswith(f"config error: {key}: ")
    assert len(message.splitlines()) == 1


def test_several_problems_give_one_line_each(tmp_path):
    path = write(
        tmp_path,
        """
        telegram:
          base_url: "nope"
          colour: blue
        database:
          url: "sqlite:///coach.db"
        defaults:
          timezone: "Nowhere/Town"
        """,
    )
    lines = config_error(path).splitlines()
    assert len(lines) == 4
    keys = sorted(line.split(": ")[1] for line in lines)
    assert keys == ["database.url", "defaults.timezone", "telegram.base_url", "telegram.colour"]


def test_bad_yaml(tmp_path):
    path = write(tmp_path, "telegram:\n  token: [unclosed\n  base_url: x\n")
    message = config_error(path)
    assert message.startswith(f"config error: {path} is not valid YAML at line ")
    assert len(message.splitlines()) == 1


def test_bad_yaml_tab_indentation(tmp_path):
    path = write(tmp_path, "telegram:\n\ttoken: abc\n")
    message = config_error(path)
    assert "is not valid YAML" in message
    assert "indentation" in message


@pytest.mark.parametrize("text", ["- telegram\n- database\n", "just a sentence\n", "42\n"])
def test_yaml_that_is_not_sections(tmp_path, text):
    path = write(tmp_path, text)
    message = config_error(path)
    assert message == f"config error: {path} must hold sections like 'telegram:'"


def test_environment_override_into_a_section_that_is_not_one(tmp_path):
    path = write(tmp_path, "telegram: nonsense\n")
    message = config_error(path, {"COACH_TELEGRAM_TOKEN": TOKEN})
    assert message == "config error: telegram: must be a section of keys"


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "config.yaml"
    message = config_error(path)
    assert message.startswith(f"config error: {path} not found")
    assert "config.example.yaml" in message


def test_errors_do_not_chain_a_traceback(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, "telegram:\n  base_url: nope\n"), {})
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


# ── the token ──────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("token", ["", "   "])
def test_require_token_explains_how_to_set_it(token):
    config = load_config(None, {"COACH_TELEGRAM_TOKEN": token} if token else {})
    with pytest.raises(ConfigError) as raised:
        require_token(config)
    message = str(raised.value)
    assert message.startswith("config error: telegram.token is empty")
    assert "COACH_TELEGRAM_TOKEN" in message
    assert "\n" not in message


def test_require_token_refuses_something_that_is_not_a_token():
    config = load_config(None, {"COACH_TELEGRAM_TOKEN": "hello"})
    with pytest.raises(ConfigError, match=r"^config error: telegram\.token doesn't look like"):
        require_token(config)


def test_require_token_returns_the_token_stripped():
    config = load_config(None, {"COACH_TELEGRAM_TOKEN": f" {TOKEN} "})
    assert require_token(config) == TOKEN
