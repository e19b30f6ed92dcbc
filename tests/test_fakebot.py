"""Self-test of the fake Bot API server against a real python-telegram-bot Application."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web
from fakebot import FakeBotAPI, utf16_len
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

# Every warning is an error, except PTB 22.8's own deprecation notice: constructing a RetryAfter
# reads its deprecated int-valued `retry_after` unless PTB_TIMEDELTA is set.
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

USER = 42


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Apple", callback_data="fruit:apple")],
            [InlineKeyboardButton("Pear", callback_data="fruit:pear")],
        ]
    )
    await update.effective_message.reply_text("Pick one", reply_markup=keyboard)


async def picked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer("noted")
    await query.edit_message_text(f"You picked {query.data.split(':', 1)[1]}")


async def send_files(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_document(
        b"line 1\nline 2\n", filename="notes.txt", caption="your notes"
    )
    await update.effective_message.reply_photo(b"\x89PNG-fake", caption="a chart")


async def fragile(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends once; on failure records the error and reports it in a second message."""
    try:
        await update.effective_message.reply_text("first try")
    except TelegramError as exc:
        context.bot_data.setdefault("errors", []).append(exc)
        await update.effective_message.reply_text(f"caught {type(exc).__name__}: {exc}")


@pytest.fixture
async def fake():
    async with FakeBotAPI() as server:
        yield server
    assert not server.server_errors


def build_app(fake: FakeBotAPI) -> Application:
    app = (
        Application.builder()
        .token(FakeBotAPI.TOKEN)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .get_updates_read_timeout(5)
        .build()
    )
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CommandHandler("files", send_files))
    app.add_handler(CommandHandler("fragile", fragile))
    app.add_handler(CallbackQueryHandler(picked, pattern=r"^fruit:"))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


async def start_app(app: Application) -> None:
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)


async def stop_app(app: Application) -> None:
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


@pytest.fixture
async def app(fake):
    application = build_app(fake)
    await start_app(application)
    yield application
    await stop_app(application)


@pytest.fixture
async def bot(fake):
    """A bare Bot (no polling) for testing the fake's method semantics directly."""
    async with Bot(FakeBotAPI.TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


async def test_text_echo_round_trip(fake, app):
    fake.send_text(USER, "hello")
    [reply] = await fake.wait_for_messages(USER, 1)
    assert reply.text == "echo: hello"
    assert reply.method == "sendMessage"
    assert reply.message_id == 2  # ids are per chat and shared with the user's message
    await fake.wait_idle()
    assert fake.pending_updates == 0
    assert fake.calls[0][0] == "getMe"
    assert "deleteWebhook" in [name for name, _ in fake.calls]


async def test_tap_edits_message_and_answers_query(fake, app):
    fake.send_text(USER, "/menu")
    [keyboard_msg] = await fake.wait_for_messages(USER, 1)
    assert keyboard_msg.buttons() == [("Apple", "fruit:apple"), ("Pear", "fruit:pear")]
    assert keyboard_msg.button_texts() == ["Apple", "Pear"]

    fake.tap(USER, keyboard_msg, "Pear")
    await fake.wait_until(lambda: fake.messages(USER)[0].edits == 1)
    [edited] = fake.messages(USER)
    assert edited.text == "You picked pear"
    assert edited.buttons() == []  # editMessageText without reply_markup drops the keyboard
    assert keyboard_msg.text == "Pick one"  # earlier snapshots are not mutated
    await fake.wait_until(lambda: len(fake.callback_answers) == 1)
    assert fake.callback_answers[0]["text"] == "noted"

    with pytest.raises(AssertionError, match="available"):
        fake.tap(USER, edited, "Apple")  # keyboard is gone now


async def test_tap_by_callback_data_and_forged_data(fake, app):
    fake.send_text(USER, "/menu")
    [msg] = await fake.wait_for_messages(USER, 1)
    fake.tap(USER, msg, "fruit:apple")
    await fake.wait_until(lambda: fake.last_message(USER).text == "You picked apple")
    # A forged press on an unknown message arrives as InaccessibleMessage; the handler's
    # edit then fails on the fake exactly like on Telegram.
    fake.tap_data(USER, 999, "fruit:fig")
    await fake.wait_until(lambda: bool(fake.error_responses))
    assert fake.error_responses == [
        ("editMessageText", 400, "Bad Request: message to edit not found")
    ]
    assert len(fake.callback_answers) == 2
    assert fake.messages(USER)[0].edits == 1


async def test_set_my_commands_recorded(fake, app):
    await app.bot.set_my_commands([("start", "Begin"), ("help", "Help")])
    assert fake.commands == [
        {"command": "start", "description": "Begin"},
        {"command": "help", "description": "Help"},
    ]
    assert [c.command for c in await app.bot.get_my_commands()] == ["start", "help"]
    await app.bot.delete_my_commands()
    assert fake.commands == []


async def test_documents_and_photos_keep_bytes(fake, app):
    fake.send_text(USER, "/files")
    doc, photo = await fake.wait_for_messages(USER, 2)
    assert (doc.method, doc.file_name, doc.file_bytes, doc.text) == (
        "sendDocument",
        "notes.txt",
        b"line 1\nline 2\n",
        "your notes",
    )
    assert (photo.method, photo.file_bytes, photo.text) == ("sendPhoto", b"\x89PNG-fake", "a chart")


async def test_retry_after_is_raised_in_handler(fake, app):
    fake.fail_next("sendMessage", status=429, retry_after=1)
    fake.send_text(USER, "/fragile")
    [msg] = await fake.wait_for_messages(USER, 1)
    assert msg.text == "caught RetryAfter: Flood control exceeded. Retry in 1 seconds"
    [err] = app.bot_data["errors"]
    assert isinstance(err, RetryAfter)
    assert [n for n, _ in fake.calls].count("sendMessage") == 2


async def test_forbidden_is_raised_in_handler(fake, app):
    fake.fail_next("sendMessage", status=403)
    fake.send_text(USER, "/fragile")
    [msg] = await fake.wait_for_messages(USER, 1)
    assert msg.text == "caught Forbidden: Forbidden: bot was blocked by the user"
    [err] = app.bot_data["errors"]
    assert isinstance(err, Forbidden)
    assert "blocked" in err.message


async def test_user_media_updates_reach_handlers(fake):
    seen: list[str] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        m = update.effective_message
        kind = next(k for k in ("sticker", "photo", "voice", "location") if getattr(m, k))
        if kind == "photo":
            data = await (await m.photo[-1].get_file()).download_as_bytearray()
            kind += f":{len(data)}"
        seen.append(kind)
        await m.reply_text(kind)

    application = build_app(fake)
    application.add_handler(MessageHandler(~filters.TEXT, record), group=1)
    await start_app(application)
    try:
        fake.send_sticker(USER)
        fake.send_photo(USER)
        fake.send_voice(USER)
        fake.send_location(USER, 52.52, 13.40)
        await fake.wait_for_messages(USER, 4)
    finally:
        await stop_app(application)
    assert seen == ["sticker", "photo:15", "voice", "location"]


async def test_group_chat_and_command_entity(fake, bot):
    fake.send_text(7, "/start@coach_test_bot now", chat_type="group", chat_id=-100)
    [update] = await bot.get_updates(timeout=0)
    message = update.message
    assert (message.chat.id, message.chat.type, message.chat.title) == (-100, "group", "Chat -100")
    assert message.from_user.first_name == "Client7"
    assert message.parse_entities() == {message.entities[0]: "/start@coach_test_bot"}
    assert message.entities[0].type == "bot_command"


async def test_json_body_and_attach_uploads(fake, bot):
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}
    url = f"{fake.base_url}{FakeBotAPI.TOKEN}/sendMessage"
    async with aiohttp.ClientSession() as session:
        for reply_markup in (markup, json.dumps(markup)):
            body = {"chat_id": USER, "text": "123", "reply_markup": reply_markup}
            async with session.post(url, json=body) as resp:
                payload = await resp.json()
                assert payload["ok"], payload
                assert payload["result"]["reply_markup"] == markup
    assert [m.text for m in fake.messages(USER)] == ["123", "123"]
    assert fake.last_message(USER).buttons() == [("Yes", "y")]

    await bot.send_document(USER, InputFile(b"attached!", filename="a.txt", attach=True))
    name, params = fake.calls[-1]
    assert name == "sendDocument"
    assert params["document"].startswith("attach://")
    assert (fake.last_message(USER).file_bytes, fake.last_message(USER).file_name) == (
        b"attached!",
        "a.txt",
    )


async def test_message_limits_and_edit_errors(fake, bot):
    assert utf16_len("\N{GRINNING FACE}") == 2
    await bot.send_message(USER, "\N{GRINNING FACE}" * 2048)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "\N{GRINNING FACE}" * 2049)
    with pytest.raises(BadRequest, match=r"(?i)text is empty"):
        await bot.send_message(USER, "   ")
    await bot.send_message(USER, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")

    msg = await bot.send_message(USER, "same")
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("same", chat_id=USER, message_id=msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=12345)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    edited = await bot.edit_message_reply_markup(USER, msg.message_id, reply_markup=markup)
    assert edited.reply_markup == markup
    assert fake.last_message(USER).buttons() == [("Go", "go")]
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_reply_markup(USER, msg.message_id, reply_markup=markup)

    assert await bot.delete_message(USER, msg.message_id)
    assert fake.last_message(USER).deleted
    with pytest.raises(BadRequest, match=r"(?i)to delete not found"):
        await bot.delete_message(USER, msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)query id is invalid"):
        await bot.answer_callback_query("nope")
    # Unknown methods succeed and are recorded.
    assert await bot.do_api_request("fakeUnknownMethod", api_kwargs={"chat_id": USER})
    assert fake.unknown_calls == [("fakeUnknownMethod", {"chat_id": USER})]
    assert await bot.send_chat_action(USER, "typing")


async def test_get_updates_long_poll(fake, bot):
    assert await bot.get_updates(timeout=0) == ()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_until(lambda: any(n == "getUpdates" for n, _ in fake.calls[1:]))
    update_id = fake.send_text(USER, "hi")
    [update] = await asyncio.wait_for(poll, 2)
    assert update.update_id == update_id
    assert fake.pending_updates == 1  # not confirmed until the next offset
    assert await bot.get_updates(offset=update_id + 1, timeout=0) == ()
    assert fake.pending_updates == 0

    # A webhook blocks polling, as on Telegram.
    await bot.set_webhook("https://example.invalid/hook")
    with pytest.raises(Conflict):
        await bot.get_updates(timeout=0)
    assert (await bot.get_webhook_info()).url == "https://example.invalid/hook"
    await bot.delete_webhook()


async def test_webhook_delivers_chats_in_parallel_and_each_chat_in_order(fake, bot):
    """As Telegram: a chat's next update waits until the bot answered its last one; other
    chats' updates do not wait for it (up to max_connections at once)."""
    arrived: list[str] = []
    first_answered = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        text = (await request.json())["message"]["text"]
        arrived.append(text)
        if text == "A1":
            await first_answered.wait()  # the bot is still handling A's first message
        return web.Response(status=200)

    hook = web.Application()
    hook.router.add_post("/hook", receive)
    runner = web.AppRunner(hook, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        fake.send_text(1, "A1")
        fake.send_text(1, "A2")
        fake.send_text(2, "B1")
        await bot.set_webhook(url)
        await fake.wait_until(lambda: "B1" in arrived, timeout=5)
        assert sorted(arrived) == ["A1", "B1"]  # B did not wait for A; A2 waits for A1
        first_answered.set()
        await fake.wait_until(lambda: fake.webhook_deliveries == 3, timeout=5)
        assert arrived[-1] == "A2" and fake.pending_updates == 0

        # With one connection, updates go strictly one after another in queue order.
        await bot.delete_webhook()
        arrived.clear()
        for chat, text in [(1, "A3"), (1, "A4"), (2, "B2")]:
            fake.send_text(chat, text)
        await bot.set_webhook(url, max_connections=1)
        await fake.wait_until(lambda: fake.webhook_deliveries == 6, timeout=5)
        assert arrived == ["A3", "A4", "B2"]
    finally:
        await bot.delete_webhook()
        await runner.cleanup()


async def test_stop_releases_long_poll_and_leaves_no_tasks(fake, bot):
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await fake.wait_until(lambda: any(n == "getUpdates" for n, _ in fake.calls))
    await asyncio.wait_for(fake.stop(), 2)
    assert await asyncio.wait_for(poll, 2) == ()
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_clean_shutdown_of_polling_application(fake):
    application = build_app(fake)
    await start_app(application)
    fake.send_text(USER, "ping")
    await fake.wait_for_messages(USER, 1)
    await stop_app(application)
    await fake.stop()
    assert fake.pending_updates == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_wait_for_messages_timeout_dumps_state(fake):
    with pytest.raises(TimeoutError, match="messages to chat 5 so far"):
        await fake.wait_for_messages(5, 1, timeout=0.05)
