"""The Telegram adapter: turns updates into service calls and replies into Bot API calls.

It holds no dialogue state. One handler sees every update; updates of one user are
processed in arrival order (PerUserUpdateProcessor), different users concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)

from bot.config import Config, require_token
from bot.dispatcher import Delivery, Dispatcher
from bot.service import CoachService, Incoming, Response
from bot.transport import AiohttpRequest
from flows.content import load
from flows.replies import Reply

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096  # Telegram counts UTF-16 code units
SEND_ATTEMPTS = 4
MAX_RETRY_AFTER = 60.0


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Runs updates concurrently across users but strictly in order for each user.

    asyncio.Lock wakes waiters first-come first-served, and PTB starts update tasks in
    arrival order, so one user's updates are handled in the order Telegram sent them.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        user = update.effective_user if isinstance(update, Update) else None
        if user is None:
            await coroutine
            return
        lock = self._locks.setdefault(user.id, asyncio.Lock())
        self._users[user.id] = self._users.get(user.id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[user.id] -= 1
            if self._users[user.id] == 0:  # forget idle users: memory stays flat
                del self._users[user.id]
                del self._locks[user.id]

    async def initialize(self) -> None:
        """Nothing to set up: locks are made on demand."""

    async def shutdown(self) -> None:
        """Nothing to free."""


def build_application(config: Config, service: CoachService) -> Application:
    tg = config.telegram
    builder = (
        Application.builder()
        .token(require_token(config))
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .concurrent_updates(PerUserUpdateProcessor(tg.concurrent_updates))
        .request(AiohttpRequest())  # replies and nudges: see bot/transport.py for why
        # A second connection lets the final getUpdates that confirms handled updates go out
        # while the cancelled long poll still holds the first; otherwise they come again.
        .get_updates_request(AiohttpRequest(pool_size=2))
    )
    if tg.mode == "webhook":
        builder = builder.updater(None)  # updates arrive through bot.webhook instead
    app = builder.build()
    app.bot_data["service"] = service
    app.bot_data["webhook"] = tg.mode == "webhook"
    app.add_handler(TypeHandler(Update, _on_update))
    app.add_error_handler(_on_error)
    return app


def schedule_nudges(app: Application, dispatcher: Dispatcher, every_seconds: float) -> None:
    """One repeating tick on PTB's JobQueue (APScheduler) drives all nudges. A tick still
    sending when the next is due makes the next return at once, so none pile up.

    The first tick runs as soon as the JobQueue starts: nudges that fell due while the bot
    was down go out at once, not a whole interval later (APScheduler rounds a start time
    already past up to the next interval, so `first=0` alone is not enough)."""
    app.bot_data["dispatcher"] = dispatcher
    assert app.job_queue is not None, "python-telegram-bot[job-queue] is a dependency"
    app.bot_data["nudge_job"] = app.job_queue.run_repeating(
        _tick,
        interval=every_seconds,
        name="nudges",
        job_kwargs={
            "max_instances": 2,
            "coalesce": True,
            "next_run_time": datetime.now(UTC),
            "misfire_grace_time": None,
        },
    )


async def stop_nudges(app: Application) -> None:
    """Before the JobQueue shuts down: no new ticks, and the one in flight finishes (its
    sends recorded). APScheduler would otherwise cancel a tick mid-send."""
    job = app.bot_data.get("nudge_job")
    if job is not None:
        job.schedule_removal()
    dispatcher: Dispatcher | None = app.bot_data.get("dispatcher")
    if dispatcher is not None:
        await dispatcher.stop()
    await asyncio.sleep(0)  # a tick handed to the executor just now starts, sees the stop, ends


async def _tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    dispatcher: Dispatcher = context.bot_data["dispatcher"]
    await dispatcher.tick()


class TelegramSender:
    """Sends one nudge and says how it went, in the dispatcher's terms."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def send(self, chat_id: int, reply: Reply) -> Delivery:
        try:
            message = await self.bot.send_message(
                chat_id, split_text(reply.text)[0], reply_markup=_markup(reply)
            )
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
            return Delivery(retry_after=seconds)
        except Forbidden:
            return Delivery(blocked=True)
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():  # the account is gone
                return Delivery(blocked=True)
            log.error("Telegram refused a nudge: %s", _safe_reason(exc))
            return Delivery()
        except NetworkError as exc:  # timeouts, connection errors, 5xx
            log.warning("nudge send failed (%s); will retry", type(exc).__name__)
            return Delivery(transient=True)
        return Delivery(ok=True, message_ref=message.message_id)


async def announce_commands(app: Application) -> None:
    """Fills Telegram's command menu (the "/" button) from the content file."""
    commands = [BotCommand(name, text) for name, text in load("messages")["commands"]]
    try:
        await app.bot.set_my_commands(commands)
    except TelegramError as exc:  # the menu is a convenience; the bot works without it
        log.warning("could not set the command menu: %s", type(exc).__name__)


def to_incoming(update: Update, *, may_come_again: bool = True) -> Incoming | None:
    """The transport-neutral event for an update; None for updates we do not answer.

    `may_come_again`: Telegram may deliver this update a second time (webhook mode: it does
    so until it sees a 200, and the 200 follows the handling). Then its id goes along, to be
    recorded. Polling confirms each update as soon as it is fetched, before it is handled,
    so a handled update never comes again there, and recording ids would be wasted writes.
    """
    query = update.callback_query
    update_id = update.update_id if may_come_again else None
    if query is not None:
        if query.data is None:
            return None
        return Incoming(query.from_user.id, choice=query.data, update_id=update_id)
    message = update.message
    if message is None or message.from_user is None:
        return None  # edited messages, channel posts, inline queries …
    if message.chat.type != ChatType.PRIVATE:
        return None
    user_id = message.from_user.id
    if message.text is not None:
        return Incoming(user_id, text=message.text, update_id=update_id)
    if message.location is not None:
        where = (message.location.latitude, message.location.longitude)
        return Incoming(user_id, location=where, update_id=update_id)
    return Incoming(user_id, non_text=True, caption=message.caption, update_id=update_id)


async def _on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    service: CoachService = context.bot_data["service"]
    if _is_group_command(update):
        await _explain_private_only(update, context)
        return
    incoming = to_incoming(update, may_come_again=context.bot_data["webhook"])
    if incoming is None:
        return
    response = await service.handle(incoming)  # committed before anything is sent
    query = update.callback_query
    if query is not None:
        await _answer(query, response)
    chat_id = update.effective_chat.id if update.effective_chat else incoming.user_id
    source = query.message if query is not None and isinstance(query.message, Message) else None
    await send_replies(context.bot, chat_id, response.replies, source=source)


def _is_group_command(update: Update) -> bool:
    message = update.message
    return (
        message is not None
        and message.chat.type != ChatType.PRIVATE
        and (message.text or "").startswith("/")
    )


async def _explain_private_only(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = str(load("messages")["groups_only_private"]).format(bot_username=context.bot.username)
    await send_replies(context.bot, update.effective_chat.id, [Reply(text)])  # type: ignore[union-attr]


async def _answer(query: CallbackQuery, response: Response) -> None:
    try:
        await query.answer(text=response.notice)
    except TelegramError as exc:  # too old to answer; the replies still go out
        log.info("callback answer failed: %s", type(exc).__name__)


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cuts long text into messages Telegram accepts, preferring line breaks."""
    chunks: list[str] = []
    while _units(text) > limit:
        cut = _prefix_within(text, limit)
        newline = text.rfind("\n", 0, cut)
        if newline > cut // 2:
            cut = newline + 1
        chunks.append(text[:cut])
        text = text[cut:]
    chunks.append(text)
    return [c for c in chunks if c.strip()] or ["…"]


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, limit: int) -> int:
    """The longest prefix length (in characters) that fits in `limit` UTF-16 units."""
    units = 0
    for index, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _markup(reply: Reply) -> Any:
    if reply.buttons:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
                for row in reply.buttons
            ]
        )
    if reply.ask_location:
        label = str(load("messages")["share_location_button"])
        return ReplyKeyboardMarkup(
            [[KeyboardButton(label, request_location=True)]],
            one_time_keyboard=True,
            resize_keyboard=True,
        )
    if reply.remove_keyboard:
        return ReplyKeyboardRemove()
    return None


async def send_replies(
    bot: Any, chat_id: int, replies: list[Reply], *, source: Message | None = None
) -> None:
    """Sends each reply in order; a failure is logged (never the text) and never raised,
    because the user's answer is already safely stored."""
    for reply in replies:
        if reply.attachment is not None:
            if not await _with_retries(lambda reply=reply: _send_file(bot, chat_id, reply)):
                return
            continue
        chunks = split_text(reply.text)
        if reply.replace and source is not None and len(chunks) == 1:
            if await _edit(bot, chat_id, source.message_id, chunks[0], _markup(reply)):
                continue
        for i, chunk in enumerate(chunks):
            markup = _markup(reply) if i == len(chunks) - 1 else None
            sent = await _with_retries(
                lambda chunk=chunk, markup=markup: bot.send_message(
                    chat_id, chunk, reply_markup=markup
                )
            )
            if not sent:
                return  # blocked or failing: later replies would fail the same way


async def _send_file(bot: Any, chat_id: int, reply: Reply) -> None:
    attachment = reply.attachment
    assert attachment is not None
    file = InputFile(attachment.data, filename=attachment.filename)
    caption = split_text(reply.text, 1024)[0] if reply.text else None
    if attachment.kind == "photo":
        await bot.send_photo(chat_id, file, caption=caption)
    else:
        await bot.send_document(chat_id, file, caption=caption)


async def _edit(bot: Any, chat_id: int, message_id: int, text: str, markup: Any) -> bool:
    try:
        await bot.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, reply_markup=markup
        )
    except BadRequest as exc:
        # "not modified" means it already shows this; anything else: send a new message.
        return "not modified" in str(exc).lower()
    except TelegramError as exc:
        log.info("edit failed: %s", type(exc).__name__)
        return False
    return True


async def _with_retries(call: Any) -> bool:
    """429 waits as told; timeouts and 5xx back off; 403 (blocked) and 400 give up."""
    delay = 0.5
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            await call()
            return True
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
            log.warning("rate limited by Telegram, waiting %.1fs", seconds)
            await asyncio.sleep(min(seconds, MAX_RETRY_AFTER))
        except Forbidden:
            log.info("user has blocked the bot; reply not delivered")
            return False
        except BadRequest as exc:
            log.error("Telegram refused a reply: %s", _safe_reason(exc))
            return False
        except NetworkError as exc:  # includes TimedOut and 5xx answers
            log.warning("sending failed (%s), attempt %d", type(exc).__name__, attempt)
            if attempt < SEND_ATTEMPTS:
                await asyncio.sleep(delay)
                delay *= 2
    log.error("reply not delivered after %d attempts", SEND_ATTEMPTS)
    return False


def _safe_reason(exc: TelegramError) -> str:
    """Telegram's error text, which describes the request's form, never its words."""
    return type(exc).__name__ + ": " + str(exc.message).split(":", 1)[0][:80]


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Logs where it broke (type and frames, not the message, which could quote user text)
    and tells the user their answers are safe."""
    error = context.error
    if error is not None:
        frames = "".join(traceback.format_tb(error.__traceback__))
        log.error("unhandled %s while handling an update\n%s", type(error).__name__, frames)
    if isinstance(update, Update) and update.effective_chat is not None:
        if update.effective_chat.type == ChatType.PRIVATE:
            text = str(load("messages")["error"])
            await send_replies(context.bot, update.effective_chat.id, [Reply(text)])
