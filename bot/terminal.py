"""`coach chat`: the same service in a terminal, for trying it, demos and therapists'
previews. Buttons are listed as #1, #2 … and picked by typing `#1`; everything else typed
goes to the bot exactly as a Telegram message would."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TextIO

from bot.dispatcher import Delivery, Dispatcher
from bot.service import CoachService, Incoming, Response
from flows.replies import Button, Reply

BANNER = (
    "Homework Coach — terminal chat. Same bot, same database as on Telegram.\n"
    "Type /start to begin, /help for commands. Pick a button by typing its number, like #1.\n"
    "Ctrl-D (or /quit) leaves; what you wrote stays saved."
)


class TerminalChat:
    def __init__(
        self, service: CoachService, user_id: int, out: TextIO, files: Path | None = None
    ) -> None:
        self.service = service
        self.user_id = user_id
        self.out = out
        self.files = files or Path("coach-files")  # charts and exports land here
        self.buttons: list[Button] = []

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def render(self, response: Response) -> None:
        if response.notice:
            self._print(f"({response.notice})")
        for reply in response.replies:
            self._print("")
            self._print(reply.text)
            if reply.attachment is not None:
                self.files.mkdir(parents=True, exist_ok=True)
                path = self.files / reply.attachment.filename
                path.write_bytes(reply.attachment.data)
                self._print(f"(file saved: {path})")
            labels = []
            for row in reply.buttons:
                for button in row:
                    self.buttons.append(button)
                    labels.append(f"[#{len(self.buttons)} {button.label}]")
                if row:
                    labels.append("\n")
            if labels:
                self._print(" " + " ".join(labels).replace(" \n ", "\n ").rstrip())
            if reply.ask_location:
                self._print('(On Telegram a "Share my location" button appears here.)')

    def to_incoming(self, line: str) -> Incoming | None:
        stripped = line.strip()
        if stripped.startswith("#") and stripped[1:].isdecimal():
            number = int(stripped[1:])
            if 1 <= number <= len(self.buttons):
                return Incoming(self.user_id, choice=self.buttons[number - 1].data)
            self._print(f"(There is no button #{number}.)")
            return None
        return Incoming(self.user_id, text=line)

    async def handle_line(self, line: str) -> None:
        incoming = self.to_incoming(line)
        if incoming is not None:
            self.buttons = []
            self.render(await self.service.handle(incoming))


class TerminalSender:
    """Nudges for the terminal's user are printed where the chat is."""

    def __init__(self, chat: TerminalChat) -> None:
        self.chat = chat

    async def send(self, chat_id: int, reply: Reply) -> Delivery:
        self.chat.render(Response([reply]))
        return Delivery(ok=True)


async def _tick_forever(dispatcher: Dispatcher, every_seconds: float) -> None:
    while True:
        await dispatcher.tick()
        await asyncio.sleep(every_seconds)


async def run_chat(
    service: CoachService, user_id: int, stdin: TextIO, out: TextIO, tick_seconds: float
) -> None:
    """Reads lines until end of input; meanwhile this user's nudges arrive when due."""
    chat = TerminalChat(service, user_id, out)
    chat._print(BANNER)
    dispatcher = Dispatcher(
        service.db, service.clock, TerminalSender(chat), service.settings.nudges, only_user=user_id
    )
    ticking = asyncio.create_task(_tick_forever(dispatcher, tick_seconds))
    interactive = stdin.isatty()
    try:
        while True:
            if interactive:
                out.write("\nyou> ")
                out.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line or line.strip() in ("/quit", "/exit"):
                chat._print("\nBye for now — everything you wrote is saved.")
                return
            await chat.handle_line(line.rstrip("\r\n"))
    finally:
        await dispatcher.stop()
        ticking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticking
