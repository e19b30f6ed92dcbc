"""Transport-neutral replies: text plus buttons, rendered by whichever adapter is talking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Button:
    """A tappable choice. `data` is the flow's own short code; the service namespaces it."""

    label: str
    data: str


@dataclass(frozen=True)
class Attachment:
    """A file sent with a reply: a picture shown inline, or a document to keep.

    `make` renders the bytes later (charts, PDFs): the service calls it after its transaction
    has committed, in a worker thread, so slow drawing never holds the database.
    """

    data: bytes
    filename: str
    kind: str = "document"  # "photo" or "document"
    make: Callable[[], bytes] | None = None

    def rendered(self) -> Attachment:
        return self if self.make is None else replace(self, data=self.make(), make=None)


@dataclass(frozen=True)
class Reply:
    """One message to the user.

    `replace` asks the adapter to edit the message whose button was tapped instead of
    sending a new one (used for toggles, so the chat does not fill with copies).
    `ask_location` offers a one-tap "share my location" button where the transport has one;
    `remove_keyboard` takes that offer away again once it has been answered.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = field(default=())
    replace: bool = False
    ask_location: bool = False
    remove_keyboard: bool = False
    attachment: Attachment | None = None  # the text becomes its caption


def rows(buttons: list[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    """Lays buttons out in rows so they stay thumb-sized on a phone."""
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def shorten(text: str, limit: int) -> str:
    """Quotes long user text without flooding the screen; the whole text stays stored."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
