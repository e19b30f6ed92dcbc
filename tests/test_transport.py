"""The bot's HTTP transport (aiohttp under python-telegram-bot) against the fake Bot API
server: what PTB needs from it, and how failures below HTTP come back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakebot import FakeBotAPI, UploadedFile
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.transport import AiohttpRequest

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

USER = 77


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    request = AiohttpRequest(read_timeout=0.5)  # short, so a stalled call times out quickly
    async with Bot(
        FakeBotAPI.TOKEN,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        request=request,
        get_updates_request=AiohttpRequest(pool_size=2),
    ) as opened:
        yield opened


async def test_messages_buttons_files_and_updates_go_through(fake: FakeBotAPI, bot: Bot):
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Skip ⏭", callback_data="T:s")]])
    sent = await bot.send_message(USER, "Step 7 of 9 — ça va? 🙂", reply_markup=keyboard)
    [seen] = fake.messages(USER)
    assert (seen.message_id, seen.text) == (sent.message_id, "Step 7 of 9 — ça va? 🙂")
    assert seen.button_texts() == ["Skip ⏭"]

    pdf = b"%PDF-1.4 not really\x00\xff"
    await bot.send_document(USER, InputFile(pdf, filename="records.pdf"), caption="Yours")
    [(_, params)] = [call for call in fake.calls if call[0] == "sendDocument"]
    upload = params["document"]
    assert isinstance(upload, UploadedFile)
    assert (upload.filename, upload.data, params["caption"]) == ("records.pdf", pdf, "Yours")

    update_id = fake.send_text(USER, "hello")
    [update] = await bot.get_updates(timeout=5)
    assert (update.update_id, update.message.text) == (update_id, "hello")


async def test_telegram_errors_come_back_as_ptb_raises_them(fake: FakeBotAPI, bot: Bot):
    for status, error in [
        (429, RetryAfter),
        (403, Forbidden),
        (400, BadRequest),
        (502, NetworkError),
    ]:
        fake.fail_next("sendMessage", status=status)
        with pytest.raises(error):
            await bot.send_message(USER, "hi")


async def test_a_lost_call_is_a_network_error_and_a_stalled_one_a_timeout(
    fake: FakeBotAPI, bot: Bot
):
    fake.break_next("sendMessage")
    with pytest.raises(NetworkError) as lost:
        await bot.send_message(USER, "lost on the way")
    assert not isinstance(lost.value, TimedOut)
    fake.break_next("sendMessage", stall=30)
    with pytest.raises(TimedOut):  # after the 0.5 s read timeout, not the fake's 30 s
        await bot.send_message(USER, "stuck")
    assert fake.broken_calls == ["sendMessage"]  # the stalled one is still hanging there
    assert fake.messages(USER) == []  # neither was carried out
    await bot.send_message(USER, "and then it works")
    assert [m.text for m in fake.messages(USER)] == ["and then it works"]
