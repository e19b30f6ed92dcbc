"""A fake Telegram Bot API server for end-to-end tests of the real PTB ``Application``.

Why: mocking ``telegram.Bot`` hides the HTTP encoding, error mapping and polling behaviour
that break in production. This fake speaks the actual Bot API over loopback HTTP, so the
bot under test runs unmodified (only ``base_url``/``base_file_url`` point here). Tests act
as users (``send_text``, ``tap`` ...) and read what the bot sent (``messages``).

Waiting never sleeps: every handled request and every pushed update bumps a change signal,
and the ``wait_*`` helpers re-check their predicate on each bump until a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
from aiohttp import web

JSONDict = dict[str, Any]

BOT_USER: JSONDict = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Coach",
    "username": "coach_test_bot",
}

MAX_TEXT = 4096
MAX_CAPTION = 1024

# Params whose string value is free text / an identifier and must never be JSON-decoded
# (a text of "123" or "true" stays a string).
_TEXT_KEYS = frozenset(
    {
        "text",
        "caption",
        "data",
        "callback_query_id",
        "inline_message_id",
        "parse_mode",
        "action",
        "url",
        "secret_token",
        "ip_address",
        "language_code",
        "description",
        "short_description",
        "name",
        "title",
        "query",
        "emoji",
        "business_connection_id",
        "message_effect_id",
        "file_id",
        "photo",
        "document",
        "sticker",
        "voice",
        "audio",
        "video",
        "animation",
        "thumbnail",
        "certificate",
        "filename",
    }
)

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), so emoji count double."""
    return len(text.encode("utf-16-le")) // 2


def _visible_text(text: str, parse_mode: str | None) -> str:
    """Approximate the text Telegram keeps after parsing markup (for length/empty checks)."""
    if parse_mode and parse_mode.upper() == "HTML":
        return html.unescape(re.sub(r"<[^>]*>", "", text))
    return text


def _chat_of(update: JSONDict) -> int:
    """The chat an update belongs to (Telegram delivers each chat's updates in order)."""
    for kind in ("message", "edited_message", "channel_post", "callback_query"):
        event = update.get(kind)
        if isinstance(event, dict):
            chat = (event.get("message") or event).get("chat") or event.get("from") or {}
            return int(chat.get("id", 0))
    return 0


class ApiError(Exception):
    """Raised inside method handlers to produce a Bot API error response."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


@dataclass
class UploadedFile:
    """A multipart file part as received (kept so tests can inspect uploaded bytes)."""

    filename: str | None
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:  # keep call dumps readable
        return f"UploadedFile({self.filename!r}, {len(self.data)} bytes)"


@dataclass
class SentMessage:
    """A message the bot sent, as the user currently sees it (edits applied)."""

    message_id: int
    chat_id: int
    method: str
    text: str | None
    reply_markup: dict | None
    file_bytes: bytes | None = None
    file_name: str | None = None
    edits: int = 0
    deleted: bool = False
    parse_mode: str | None = None

    def buttons(self) -> list[tuple[str, str]]:
        """(text, callback_data) of inline buttons, row-major; url buttons give ''."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [(b.get("text", ""), b.get("callback_data", "")) for row in rows for b in row]

    def button_texts(self) -> list[str]:
        """Visible button texts: inline keyboard, or else a reply keyboard's buttons."""
        markup = self.reply_markup or {}
        if "inline_keyboard" in markup:
            return [text for text, _ in self.buttons()]
        rows = markup.get("keyboard") or []
        return [b if isinstance(b, str) else b.get("text", "") for row in rows for b in row]


class FakeBotAPI:
    """In-process Bot API server on 127.0.0.1 that a real PTB ``Application`` can poll."""

    TOKEN: ClassVar[str] = "123456:TEST-TOKEN"

    def __init__(self) -> None:
        self.base_url: str = ""
        self.base_file_url: str = ""
        self.calls: list[tuple[str, dict]] = []
        self.commands: list[dict] = []
        self.callback_answers: list[dict] = []
        self.unknown_calls: list[tuple[str, dict]] = []
        # (method, status, description) of every error returned, injected or semantic.
        self.error_responses: list[tuple[str, int, str]] = []
        # Exceptions raised by the fake itself (bugs); tests may assert this stays empty.
        self.server_errors: list[BaseException] = []
        self.webhook_url: str = ""
        self.webhook_secret: str = ""
        self.webhook_deliveries = 0  # updates the bot's webhook accepted with 200
        self.webhook_refusals: list[int] = []  # statuses of deliveries it refused
        self.webhook_max_connections = 40  # Telegram's default
        self._webhook_task: asyncio.Task[None] | None = None

        self._runner: web.AppRunner | None = None
        self._stopping = False
        self._changed = asyncio.Event()
        self._chat_changed: dict[int, asyncio.Event] = {}
        self._updates: list[JSONDict] = []
        self._next_update_id = 1
        self._poll_generation = 0
        self._chats: dict[int, JSONDict] = {}
        self._next_message_id: dict[int, int] = {}
        self._raw: dict[tuple[int, int], JSONDict] = {}
        self._sent: dict[int, list[SentMessage]] = {}
        self._files: dict[str, UploadedFile] = {}
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self._failures: dict[str, list[tuple[int, int | None, str | None]]] = {}
        self._breaks: dict[str, list[float]] = {}
        self.broken_calls: list[str] = []  # calls that got no answer (break_next)

        methods: dict[str, Callable[[JSONDict], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._true,
            "deleteMessage": self._delete_message,
            "getFile": self._get_file,
            "close": self._true,
            "logOut": self._true,
        }
        # Telegram method names are case-insensitive.
        self._methods = {name.lower(): (name, fn) for name, fn in methods.items()}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind a random free loopback port and start serving."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}/bot"
        self.base_file_url = f"http://{host}:{port}/file/bot"
        self._stopping = False

    async def stop(self) -> None:
        """Release pending long polls at once, then shut the server down (idempotent)."""
        self._stopping = True
        self._bump()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def config_file(self, folder: Path, db_url: str, key: str, **nudges: float) -> Path:
        """A config file for a `coach run` process polling this fake (`nudges`: nudges.*)."""
        path = folder / "config.yaml"
        extra = "".join(f"\n  {name}: {value}" for name, value in nudges.items())
        path.write_text(
            f"""
telegram:
  token: "{self.TOKEN}"
  base_url: "{self.base_url}"
  base_file_url: "{self.base_file_url}"
  poll_timeout: 1
database:
  url: "{db_url}"
nudges:{extra or " {}"}
security:
  data_key: "{key}"
"""
        )
        return path

    # ------------------------------------------------------------------ change signal

    def _bump(self) -> None:
        """Wake every waiter. An Event swap (not a Condition) so sync code can notify too."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_for(self, predicate: Callable[[], bool], seconds: float) -> bool:
        """Wait until predicate() is true, re-checking on every bump; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            event = self._changed
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                return predicate()
        return True

    # ------------------------------------------------------------------ acting as users

    @staticmethod
    def _user(user_id: int) -> JSONDict:
        return {"id": user_id, "is_bot": False, "first_name": f"Client{user_id}"}

    def _chat(
        self, user_id: int, chat_type: str = "private", chat_id: int | None = None
    ) -> JSONDict:
        cid = user_id if chat_id is None else chat_id
        if chat_type == "private":
            chat: JSONDict = {"id": cid, "type": "private", "first_name": f"Client{user_id}"}
        else:
            chat = {"id": cid, "type": chat_type, "title": f"Chat {cid}"}
        self._chats[cid] = chat
        return chat

    def _chat_for_send(self, chat_id: int) -> JSONDict:
        if chat_id not in self._chats:
            self._chats[chat_id] = {
                "id": chat_id,
                "type": "private",
                "first_name": f"Client{chat_id}",
            }
        return self._chats[chat_id]

    def _new_message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] = self._next_message_id.get(chat_id, 0) + 1
        return self._next_message_id[chat_id]

    def _new_file_id(self, kind: str, data: bytes, filename: str | None) -> tuple[str, str]:
        n = next(self._file_ids)
        file_id = f"{kind}-file-{n}"
        self._files[file_id] = UploadedFile(filename, None, data)
        return file_id, f"uniq-{kind}-{n}"

    def _user_message(
        self, user_id: int, chat_type: str, chat_id: int | None, content: JSONDict
    ) -> int:
        chat = self._chat(user_id, chat_type, chat_id)
        message = {
            "message_id": self._new_message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "from": self._user(user_id),
            **content,
        }
        self._raw[(chat["id"], message["message_id"])] = message
        return self.push_update({"message": message})

    def send_text(
        self, user_id: int, text: str, *, chat_type: str = "private", chat_id: int | None = None
    ) -> int:
        """Queue a text message from a user; '/cmd' gets a bot_command entity like Telegram."""
        content: JSONDict = {"text": text}
        if text.startswith("/"):
            command = re.match(r"\S+", text)
            assert command is not None
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
            ]
        return self._user_message(user_id, chat_type, chat_id, content)

    def send_sticker(
        self, user_id: int, *, chat_type: str = "private", chat_id: int | None = None
    ) -> int:
        """Queue a sticker message (for 'unsupported input' paths)."""
        file_id, unique = self._new_file_id("sticker", b"RIFF-fake-webp", "sticker.webp")
        sticker = {
            "file_id": file_id,
            "file_unique_id": unique,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "\N{THUMBS UP SIGN}",
        }
        return self._user_message(user_id, chat_type, chat_id, {"sticker": sticker})

    def send_photo(
        self,
        user_id: int,
        *,
        caption: str | None = None,
        chat_type: str = "private",
        chat_id: int | None = None,
    ) -> int:
        """Queue a photo message; its file can be fetched with getFile + download."""
        data = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"
        file_id, unique = self._new_file_id("photo", data, "photo.jpg")
        photo = [
            {
                "file_id": file_id,
                "file_unique_id": unique,
                "width": 90,
                "height": 90,
                "file_size": len(data),
            }
        ]
        content: JSONDict = {"photo": photo}
        if caption is not None:
            content["caption"] = caption
        return self._user_message(user_id, chat_type, chat_id, content)

    def send_voice(
        self, user_id: int, *, chat_type: str = "private", chat_id: int | None = None
    ) -> int:
        """Queue a voice note."""
        data = b"OggS-fake-voice"
        file_id, unique = self._new_file_id("voice", data, "voice.ogg")
        voice = {
            "file_id": file_id,
            "file_unique_id": unique,
            "duration": 3,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }
        return self._user_message(user_id, chat_type, chat_id, {"voice": voice})

    def send_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        *,
        chat_type: str = "private",
        chat_id: int | None = None,
    ) -> int:
        """Queue a location message (e.g. for timezone detection)."""
        location = {"latitude": latitude, "longitude": longitude}
        return self._user_message(user_id, chat_type, chat_id, {"location": location})

    def tap(self, user_id: int, message: SentMessage, button: str) -> int:
        """Tap an inline button (by visible text or callback_data) on the message as it is now."""
        raw = self._raw.get((message.chat_id, message.message_id))
        current = self._find_sent(message.chat_id, message.message_id)
        available = current.buttons() if current is not None and not current.deleted else []
        for text, data in available:
            if button in (text, data):
                if not data:
                    raise AssertionError(f"button {text!r} has no callback_data")
                return self._callback(user_id, message.chat_id, message.message_id, data, raw)
        raise AssertionError(
            f"no button {button!r} on message {message.message_id} in chat {message.chat_id}; "
            f"available (text, callback_data): {available}"
        )

    def tap_data(
        self, user_id: int, message_id: int, data: str, *, chat_id: int | None = None
    ) -> int:
        """Send any callback_data for any message id (stale or forged button presses)."""
        cid = user_id if chat_id is None else chat_id
        return self._callback(user_id, cid, message_id, data, self._raw.get((cid, message_id)))

    def _callback(
        self, user_id: int, chat_id: int, message_id: int, data: str, raw: JSONDict | None
    ) -> int:
        query_id = f"cbq-{next(self._query_ids)}"
        self._open_queries.add(query_id)
        if raw is None:
            # Unknown/deleted message: Telegram sends an InaccessibleMessage (date 0).
            chat = self._chats.get(chat_id) or self._chat(user_id, chat_id=chat_id)
            message: JSONDict = {"chat": chat, "message_id": message_id, "date": 0}
        else:
            message = copy.deepcopy(raw)
        query = {
            "id": query_id,
            "from": self._user(user_id),
            "chat_instance": f"ci-{chat_id}",
            "data": data,
            "message": message,
        }
        return self.push_update({"callback_query": query})

    def push_update(self, update: dict) -> int:
        """Queue a raw update for getUpdates; assigns update_id if missing."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        self._updates.append(update)
        self._updates.sort(key=lambda u: u["update_id"])
        self._bump()
        return update["update_id"]

    @property
    def pending_updates(self) -> int:
        """Updates queued but not yet confirmed by a getUpdates offset."""
        return len(self._updates)

    # ------------------------------------------------------------------ observing

    def _find_sent(self, chat_id: int, message_id: int) -> SentMessage | None:
        for sent in self._sent.get(chat_id, []):
            if sent.message_id == message_id:
                return sent
        return None

    def messages(self, chat_id: int) -> list[SentMessage]:
        """Snapshots of what the bot sent to chat_id, in send order, with edits applied."""
        return [copy.deepcopy(m) for m in self._sent.get(chat_id, [])]

    def last_message(self, chat_id: int) -> SentMessage:
        """The most recent bot message in chat_id (AssertionError if none)."""
        sent = self._sent.get(chat_id)
        if not sent:
            raise AssertionError(f"the bot sent nothing to chat {chat_id}")
        return copy.deepcopy(sent[-1])

    def _dump(self, chat_id: int) -> str:
        lines = [f"  #{m.message_id} [{m.method}] {m.text!r}" for m in self._sent.get(chat_id, [])]
        recent = [name for name, _ in self.calls[-15:]]
        return (
            f"messages to chat {chat_id} so far:\n"
            + ("\n".join(lines) or "  (none)")
            + f"\nlast calls: {recent}\npending updates: {self.pending_updates}"
            + (f"\nfake server errors: {self.server_errors!r}" if self.server_errors else "")
        )

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the tests' API
    ) -> list[SentMessage]:
        """Wait until the bot has sent at least `count` messages to chat_id in total."""
        if not await self._wait_for(lambda: len(self._sent.get(chat_id, [])) >= count, timeout):
            raise TimeoutError(
                f"expected {count} message(s) in chat {chat_id} within {timeout}s\n"
                + self._dump(chat_id)
            )
        return self.messages(chat_id)

    def message_count(self, chat_id: int) -> int:
        """How many messages the bot has sent to chat_id (no snapshots: cheap to poll)."""
        return len(self._sent.get(chat_id, []))

    async def wait_for_count(self, chat_id: int, count: int, *, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Like wait_for_messages, but woken only by messages to this chat and returning no
        snapshots: benchmarks with hundreds of clients waiting at once stay cheap."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.message_count(chat_id) < count:
            changed = self._chat_changed.setdefault(chat_id, asyncio.Event())
            async with asyncio.timeout_at(deadline):
                await changed.wait()

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the tests' API
    ) -> None:
        """Wait until predicate() holds; re-checked after every handled request/pushed update."""
        if not await self._wait_for(predicate, timeout):
            recent = [name for name, _ in self.calls[-15:]]
            raise TimeoutError(
                f"condition not met within {timeout}s; last calls: {recent}; "
                f"pending updates: {self.pending_updates}"
            )

    async def wait_idle(self, *, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until every queued update has been confirmed by the bot's polling."""
        await self.wait_until(lambda: not self._updates, timeout=timeout)

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """Make the next `times` calls of `method` fail with this HTTP status/description."""
        if status == 429 and retry_after is None:
            retry_after = 1
        self._failures.setdefault(method.lower(), []).extend(
            [(status, retry_after, description)] * times
        )

    def break_next(self, method: str, *, times: int = 1, stall: float = 0.0) -> None:
        """The next `times` calls of `method` are lost: not carried out, and the connection
        closes without an answer — at once, or after `stall` seconds (a client whose read
        timeout is shorter sees a timeout instead)."""
        self._breaks.setdefault(method.lower(), []).extend([stall] * times)

    # ------------------------------------------------------------------ HTTP plumbing

    @staticmethod
    def _json(status: int, payload: JSONDict) -> web.Response:
        return web.json_response(payload, status=status)

    @classmethod
    def _error(cls, status: int, description: str, retry_after: int | None = None) -> web.Response:
        payload: JSONDict = {"ok": False, "error_code": status, "description": description}
        if status == 429:
            payload["parameters"] = {"retry_after": retry_after or 1}
        return cls._json(status, payload)

    async def _read_params(self, request: web.Request) -> JSONDict:
        """Decode query + body params the way Telegram accepts them (form, multipart, JSON)."""
        params: JSONDict = {}
        for key, value in request.query.items():
            params[key] = self._decode(key, value)
        if request.content_type == "application/json":
            body = await request.json() if request.can_read_body else {}
            for key, value in (body or {}).items():
                params[key] = self._decode(key, value) if key not in _TEXT_KEYS else value
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = UploadedFile(
                        value.filename, value.content_type, value.file.read()
                    )
                else:
                    params[key] = self._decode(key, value)
        return params

    @staticmethod
    def _decode(key: str, value: Any) -> Any:
        """JSON-decode non-text string values ('123', 'true', '{...}', '[...]')."""
        if not isinstance(value, str) or key in _TEXT_KEYS:
            return value
        try:
            return json.loads(value)
        except ValueError:
            return value

    async def _handle_api(self, request: web.Request) -> web.Response:
        try:
            return await self._dispatch(request)
        finally:
            self._bump()

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.TOKEN:
            return self._error(401, "Unauthorized")
        raw_name = request.match_info["method"]
        try:
            params = await self._read_params(request)
        except Exception as exc:
            return self._error(400, f"Bad Request: can't parse request: {exc}")
        name, handler = self._methods.get(raw_name.lower(), (raw_name, None))
        self.calls.append((name, params))
        self._bump()  # waiters on `calls` must not have to wait for a long poll to end

        breaks = self._breaks.get(name.lower())
        if breaks:  # lost on the way: nothing is done, and no answer ever comes
            stall = breaks.pop(0)
            if stall:
                await self._wait_for(lambda: self._stopping, stall)
            assert request.transport is not None
            request.transport.close()
            self.broken_calls.append(name)
            return web.Response(status=502)  # never reaches the bot: the connection is gone

        pending = self._failures.get(name.lower())
        if pending:
            status, retry_after, description = pending.pop(0)
            if status == 429:
                description = description or f"Too Many Requests: retry after {retry_after}"
            err = ApiError(status, description or _DEFAULT_DESCRIPTIONS.get(status, "Error"))
            err.retry_after = retry_after
        elif handler is None:
            self.unknown_calls.append((name, params))
            return self._json(200, {"ok": True, "result": True})
        else:
            try:
                result = await handler(params)
            except ApiError as exc:
                err = exc
            except Exception as exc:  # a bug in the fake: surface it instead of hanging the bot
                self.server_errors.append(exc)
                err = ApiError(500, f"Internal Server Error: fake crashed: {exc!r}")
            else:
                return self._json(200, {"ok": True, "result": result})
        self.error_responses.append((name, err.status, err.description))
        return self._error(err.status, err.description, err.retry_after)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.TOKEN:
            return web.Response(status=401)
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        stored = self._files.get(file_id)
        if stored is None:
            return web.Response(status=404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    # ------------------------------------------------------------------ method handlers

    @staticmethod
    def _chat_id(params: JSONDict) -> int:
        try:
            return int(params["chat_id"])
        except KeyError:
            raise ApiError(400, "Bad Request: chat_id is empty") from None
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None

    @staticmethod
    async def _true(params: JSONDict) -> bool:
        return True

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **BOT_USER,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = float(params.get("timeout") or 0)
        # A newer getUpdates terminates an older one, as on Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        if not self._updates and timeout > 0 and not self._stopping:
            await self._wait_for(
                lambda: (
                    bool(self._updates) or self._stopping or self._poll_generation != generation
                ),
                timeout,
            )
        if self._poll_generation != generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        if self._stopping:
            return []
        return copy.deepcopy(self._updates[:limit])

    async def _delete_webhook(self, params: JSONDict) -> bool:
        self.webhook_url = ""
        self._bump()
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _set_webhook(self, params: JSONDict) -> bool:
        self.webhook_url = str(params.get("url") or "")
        self.webhook_secret = str(params.get("secret_token") or "")
        self.webhook_max_connections = int(params.get("max_connections") or 40)
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if self.webhook_url and (self._webhook_task is None or self._webhook_task.done()):
            self._webhook_task = asyncio.create_task(self._deliver_to_webhook())
        self._bump()
        return True

    async def _deliver_to_webhook(self) -> None:
        """Like Telegram: POSTs pending updates to the webhook with the secret header. Each
        chat's updates go one at a time, in order, the next only once the bot answered the
        last with 200; different chats' updates go in parallel, up to the webhook's
        max_connections. An update leaves the queue only when the bot answered 200."""
        in_flight: dict[int, asyncio.Task[None]] = {}  # chat → its delivery
        async with aiohttp.ClientSession() as http:
            try:
                while self.webhook_url and not self._stopping:
                    for update in self._next_deliveries(in_flight):
                        chat = _chat_of(update)
                        in_flight[chat] = asyncio.create_task(self._post_update(http, update))
                        in_flight[chat].add_done_callback(lambda _t: self._bump())
                    for chat in [c for c, task in in_flight.items() if task.done()]:
                        in_flight.pop(chat).result()  # a bug in the fake shows here
                    await self._wait_for(
                        lambda: (
                            self._stopping
                            or not self.webhook_url
                            or any(task.done() for task in in_flight.values())
                            or bool(self._next_deliveries(in_flight))
                        ),
                        3600,
                    )
            finally:
                for task in in_flight.values():
                    task.cancel()
                await asyncio.gather(*in_flight.values(), return_exceptions=True)

    def _next_deliveries(self, in_flight: dict[int, asyncio.Task[None]]) -> list[JSONDict]:
        """The first pending update of each chat with none in flight, within the limit."""
        room = self.webhook_max_connections - len(in_flight)
        chosen: list[JSONDict] = []
        seen: set[int] = set(in_flight)
        for update in self._updates:
            if len(chosen) >= room:
                break
            chat = _chat_of(update)
            if chat not in seen:
                chosen.append(update)
            seen.add(chat)  # a chat's later updates wait for its first
        return chosen

    async def _post_update(self, http: aiohttp.ClientSession, update: JSONDict) -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret}
        try:
            async with http.post(self.webhook_url, json=update, headers=headers) as reply:
                status = reply.status
        except aiohttp.ClientError:
            status = 0
        if status == 200:
            self._updates = [u for u in self._updates if u is not update]
            self.webhook_deliveries += 1
        else:
            self.webhook_refusals.append(status)
            await asyncio.sleep(0.05)  # Telegram backs off before trying this chat again

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        self.commands = commands
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[dict]:
        return self.commands

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self.commands = []
        return True

    def _store_bot_message(
        self,
        method: str,
        params: JSONDict,
        content: JSONDict,
        text: str | None,
        file_bytes: bytes | None = None,
        file_name: str | None = None,
    ) -> JSONDict:
        chat_id = self._chat_id(params)
        markup = params.get("reply_markup")
        message_id = self._new_message_id(chat_id)
        message: JSONDict = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat_for_send(chat_id),
            "from": BOT_USER,
            **content,
        }
        # Only inline keyboards are echoed back in Message.reply_markup by Telegram.
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._raw[(chat_id, message_id)] = message
        self._sent.setdefault(chat_id, []).append(
            SentMessage(
                message_id=message_id,
                chat_id=chat_id,
                method=method,
                text=text,
                reply_markup=markup if isinstance(markup, dict) else None,
                file_bytes=file_bytes,
                file_name=file_name,
                parse_mode=params.get("parse_mode"),
            )
        )
        changed = self._chat_changed.pop(chat_id, None)
        if changed is not None:
            changed.set()
        return copy.deepcopy(message)

    @staticmethod
    def _check_text(text: Any, parse_mode: str | None) -> str:
        if not isinstance(text, str) or not _visible_text(text, parse_mode).strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(_visible_text(text, parse_mode)) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return text

    @staticmethod
    def _check_caption(caption: Any, parse_mode: str | None) -> str | None:
        if caption is None:
            return None
        caption = str(caption)
        if utf16_len(_visible_text(caption, parse_mode)) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        return caption

    async def _send_message(self, params: JSONDict) -> JSONDict:
        text = self._check_text(params.get("text"), params.get("parse_mode"))
        return self._store_bot_message("sendMessage", params, {"text": text}, text)

    def _file_param(self, params: JSONDict, key: str) -> tuple[bytes | None, str | None]:
        """Resolve an upload (multipart part, attach://name, known file_id or URL)."""
        value = params.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, UploadedFile):
            return value.data, value.filename
        if isinstance(value, str):
            stored = self._files.get(value)
            if stored is not None:
                return stored.data, stored.filename
            if value.startswith(("http://", "https://")):
                return None, value.rsplit("/", 1)[-1] or None
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        raise ApiError(400, f"Bad Request: there is no {key} in the request")

    async def _send_document(self, params: JSONDict) -> JSONDict:
        data, name = self._file_param(params, "document")
        caption = self._check_caption(params.get("caption"), params.get("parse_mode"))
        file_id, unique = self._new_file_id("document", data or b"", name)
        document: JSONDict = {"file_id": file_id, "file_unique_id": unique}
        if name:
            document["file_name"] = name
        if data is not None:
            document["file_size"] = len(data)
        content: JSONDict = {"document": document}
        if caption is not None:
            content["caption"] = caption
        return self._store_bot_message("sendDocument", params, content, caption, data, name)

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        data, name = self._file_param(params, "photo")
        caption = self._check_caption(params.get("caption"), params.get("parse_mode"))
        file_id, unique = self._new_file_id("photo", data or b"", name)
        size: JSONDict = {"file_id": file_id, "file_unique_id": unique, "width": 800, "height": 600}
        if data is not None:
            size["file_size"] = len(data)
        content: JSONDict = {"photo": [size]}
        if caption is not None:
            content["caption"] = caption
        return self._store_bot_message("sendPhoto", params, content, caption, data, name)

    def _editable(self, params: JSONDict) -> tuple[JSONDict, SentMessage]:
        chat_id = self._chat_id(params)
        message_id = int(params.get("message_id") or 0)
        raw = self._raw.get((chat_id, message_id))
        sent = self._find_sent(chat_id, message_id)
        if raw is None or (sent is not None and sent.deleted):
            raise ApiError(400, "Bad Request: message to edit not found")
        if sent is None:
            raise ApiError(400, "Bad Request: message can't be edited")
        return raw, sent

    def _apply_edit(
        self, raw: JSONDict, sent: SentMessage, text_key: str, text: str | None, markup: Any
    ) -> JSONDict:
        raw.pop("reply_markup", None)
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            raw["reply_markup"] = markup
        if text_key:
            if text is None:
                raw.pop(text_key, None)
            else:
                raw[text_key] = text
            sent.text = text
        sent.reply_markup = markup if isinstance(markup, dict) else None
        raw["edit_date"] = int(time.time())
        sent.edits += 1
        return copy.deepcopy(raw)

    async def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        text = self._check_text(params.get("text"), params.get("parse_mode"))
        markup = params.get("reply_markup")
        if params.get("inline_message_id"):
            return True
        raw, sent = self._editable(params)
        if "text" not in raw:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        # Like Telegram: omitting reply_markup removes the inline keyboard.
        if raw["text"] == text and raw.get("reply_markup") == markup:
            raise ApiError(400, _NOT_MODIFIED)
        return self._apply_edit(raw, sent, "text", text, markup)

    async def _edit_message_caption(self, params: JSONDict) -> JSONDict | bool:
        caption = self._check_caption(params.get("caption"), params.get("parse_mode"))
        markup = params.get("reply_markup")
        if params.get("inline_message_id"):
            return True
        raw, sent = self._editable(params)
        if "text" in raw:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        if raw.get("caption") == caption and raw.get("reply_markup") == markup:
            raise ApiError(400, _NOT_MODIFIED)
        return self._apply_edit(raw, sent, "caption", caption, markup)

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        markup = params.get("reply_markup")
        if params.get("inline_message_id"):
            return True
        raw, sent = self._editable(params)
        if raw.get("reply_markup") == markup:
            raise ApiError(400, _NOT_MODIFIED)
        return self._apply_edit(raw, sent, "", None, markup)

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = params.get("callback_query_id")
        if query_id not in self._open_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_queries.discard(query_id)
        self.callback_answers.append(params)
        return True

    async def _delete_message(self, params: JSONDict) -> bool:
        chat_id = self._chat_id(params)
        message_id = int(params.get("message_id") or 0)
        sent = self._find_sent(chat_id, message_id)
        if (chat_id, message_id) not in self._raw or (sent is not None and sent.deleted):
            raise ApiError(400, "Bad Request: message to delete not found")
        del self._raw[(chat_id, message_id)]
        if sent is not None:
            sent.deleted = True
        return True

    async def _get_file(self, params: JSONDict) -> JSONDict:
        file_id = params.get("file_id")
        stored = self._files.get(file_id) if isinstance(file_id, str) else None
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"uniq-{file_id}",
            "file_size": len(stored.data),
            "file_path": f"files/{file_id}",
        }


__all__ = ["BOT_USER", "FakeBotAPI", "SentMessage", "UploadedFile", "utf16_len"]
