"""What a flow can be fed: the transport-free shape of one thing a user did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NavCommand = Literal["back", "cancel", "example"]


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Choice:
    """A tapped button, carrying the opaque data the flow put on it."""

    data: str


@dataclass(frozen=True)
class Command:
    name: NavCommand


@dataclass(frozen=True)
class NonText:
    """A sticker, photo, voice note… something we cannot read as an answer."""


Event = Text | Choice | Command | NonText
