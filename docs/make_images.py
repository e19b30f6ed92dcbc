"""Makes the README's pictures from the real code: a demo client's month of homework goes
through the conversation service and the dispatcher, then /progress and /export are asked for.

    .venv/bin/python docs/make_images.py     (needs pdftoppm, from poppler-utils, for the PDF page)
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.dispatcher import Delivery, Dispatcher
from bot.service import CoachService, Incoming
from bot.settings import Settings
from flows.replies import Reply
from storage import crypto, migrate
from storage.db import Database

HERE = Path(__file__).resolve().parent
CLIENT = 77


class Clock:
    def __init__(self) -> None:
        self.current = datetime(2026, 2, 23, 7, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current


class Quiet:
    async def send(self, chat_id: int, reply: Reply) -> Delivery:
        return Delivery(ok=True)


WINS = ["fixed the leaky tap", "called Sam", "went to bed on time", "walked to the river"]
RECORDS = [
    ("Called my daughter, she ended it after two minutes.", "sad 80, ashamed 60",
     "My kids don't want me in their lives.", "She hung up quickly.",
     "She picked up. She sent photos last month.", "She was busy; I can call on Saturday.",
     ("45", "30")),
    ("Manager pointed out two mistakes in my report.", "frustrated 75, anxious 70",
     "I'm useless at this job.", "Two mistakes.", "The rest was fine; good review in spring.",
     "Two fixable mistakes are normal.", ("40", "35")),
    ("Stayed on the sofa all Saturday afternoon.", "guilty 70, hopeless 55",
     "I never get anything done.", "Didn't walk or fix the shelf.",
     "Fixed the leaky tap on Wednesday, called my brother.",
     "A low-energy day after a bad week of sleep.", ("35", "25")),
]  # fmt: skip


async def main() -> None:
    crypto.configure([crypto.generate_key()])
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}")
        await migrate.upgrade(db)
        clock = Clock()
        service = CoachService(db, clock, Settings())
        dispatcher = Dispatcher(db, clock, Quiet(), service.settings.nudges)

        async def say(text: str) -> list[Reply]:
            return (await service.handle(Incoming(CLIENT, text=text))).replies

        await say("/timezone Europe/London")
        await say("/remind walk mon,wed,fri 17:30")
        await say("/remind compassion daily 09:00")
        for day in range(28):
            morning = datetime(2026, 2, 23, 9, 0, tzinfo=UTC) + timedelta(days=day)
            clock.current = morning
            await dispatcher.tick()
            if day % 4 != 3:
                clock.current = morning + timedelta(minutes=20)
                await say("A kind word to myself: I'm doing my best." if day % 2 else "done")
            clock.current = morning + timedelta(hours=8, minutes=30)
            await dispatcher.tick()
            if day % 7 not in (1, 5):
                clock.current += timedelta(minutes=40)
                await say("done" if day % 3 else "skip")
            if day % 9 == 2:
                situation, emotions, hot, ev_for, ev_against, balanced, after = RECORDS[
                    (day // 9) % 3
                ]
                for answer in ("/thought", situation, emotions, hot, ev_for, ev_against,
                               "1, 10", balanced, "65", *after):  # fmt: skip
                    await say(answer)
            if day % 6 == 0:
                await say(f"/win {WINS[(day // 6) % len(WINS)]}")
        clock.current = datetime(2026, 3, 22, 20, 0, tzinfo=UTC)
        started = time.perf_counter()
        progress = await say("/progress")
        print(f"/progress answered in {time.perf_counter() - started:.2f} s (first, cold)")
        started = time.perf_counter()
        await say("/progress")
        print(f"/progress answered in {time.perf_counter() - started:.2f} s (warm)")
        chart = next(r.attachment for r in progress if r.attachment is not None)
        (HERE / "progress.png").write_bytes(chart.data)
        started = time.perf_counter()
        exported = await say("/export 30")
        print(f"/export 30 answered in {time.perf_counter() - started:.2f} s")
        pdf = next(
            r.attachment
            for r in exported
            if r.attachment and r.attachment.filename.endswith(".pdf")
        )
        (Path(tmp) / "export.pdf").write_bytes(pdf.data)
        if shutil.which("pdftoppm"):
            for page, name in ((1, "export-cover"), (2, "export-records")):
                await asyncio.to_thread(
                    subprocess.run,
                    ["pdftoppm", "-png", "-r", "60", "-f", str(page), "-l", str(page),
                     "-singlefile", str(Path(tmp) / "export.pdf"), str(HERE / name)],
                    check=True,
                )  # fmt: skip
        else:
            print("pdftoppm not found: the PDF page images were not made")
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
