"""The bot's HTTP transport (aiohttp under python-telegram-bot) against the fake Bot API
server: what PTB needs from it, and how failures below HTTP come back."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
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


def self_signed(folder: Path) -> ssl.SSLContext:
    """A TLS server context for 127.0.0.1 with a certificate no authority signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


async def test_a_server_without_a_trusted_certificate_is_refused(tmp_path: Path):
    answered: list[str] = []

    async def get_me(request: web.Request) -> web.Response:
        answered.append(request.path)  # never: the handshake fails first
        return web.json_response({"ok": True, "result": {}})

    server = web.Application()
    server.router.add_route("*", "/bot{token}/{method}", get_me)
    runner = web.AppRunner(server, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed(tmp_path)).start()
    port = runner.addresses[0][1]
    bot = Bot(FakeBotAPI.TOKEN, base_url=f"https://127.0.0.1:{port}/bot", request=AiohttpRequest())
    try:
        await bot.request.initialize()
        with pytest.raises(NetworkError, match=r"[Cc]ertificate"):
            await bot.get_me()
        assert answered == []
    finally:
        await bot.request.shutdown()
        await runner.cleanup()


async def test_the_proxy_in_the_environment_is_used_unless_no_proxy_names_the_host(
    fake: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
):
    relayed: list[str] = []

    async def relay(request: web.Request) -> web.Response:
        """A forward proxy: takes the absolute URL the client asked for, fetches it."""
        relayed.append(request.path)
        async with aiohttp.ClientSession() as http:
            body, headers = await request.read(), {"Content-Type": request.content_type}
            async with http.request(
                request.method, str(request.url), data=body, headers=headers
            ) as r:
                return web.Response(
                    status=r.status, body=await r.read(), content_type="application/json"
                )

    proxy = web.Application()
    proxy.router.add_route("*", "/{anything:.*}", relay)
    runner = web.AppRunner(proxy, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{runner.addresses[0][1]}")
    try:
        async with Bot(FakeBotAPI.TOKEN, base_url=fake.base_url, request=AiohttpRequest()) as bot:
            await bot.send_message(USER, "through the proxy")
        assert relayed == [f"/bot{FakeBotAPI.TOKEN}/getMe", f"/bot{FakeBotAPI.TOKEN}/sendMessage"]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with Bot(FakeBotAPI.TOKEN, base_url=fake.base_url, request=AiohttpRequest()) as bot:
            await bot.send_message(USER, "straight there")
        assert len(relayed) == 2  # not through the proxy this time
        assert [m.text for m in fake.messages(USER)] == ["through the proxy", "straight there"]
    finally:
        await runner.cleanup()
