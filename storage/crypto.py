"""Encryption at rest for what clients write: Fernet tokens in ordinary Text columns.

The keys are set once at start (`configure`). MultiFernet encrypts with the first key and
decrypts with any, so a new key can be put first and `coach keys rotate` re-encrypts the rest.
Rows written before encryption existed (plain text) are still read, and rotation encrypts them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text, TypeDecorator
from sqlalchemy.engine import Dialect

_TOKEN_PREFIX = "gAAAAA"  # every Fernet token starts so (version byte + timestamp)
_cipher: MultiFernet | None = None


class DataKeyError(Exception):
    """A key that is not a Fernet key; the message says how to make one."""


def configure(keys: list[str]) -> None:
    global _cipher
    try:
        _cipher = MultiFernet([Fernet(k.strip().encode()) for k in keys if k.strip()])
    except (ValueError, TypeError) as exc:
        raise DataKeyError(
            "config error: security.data_key: not a Fernet key — `coach keys new` prints one"
        ) from exc


def cipher() -> MultiFernet:
    if _cipher is None:
        raise RuntimeError("storage.crypto.configure() was not called: no data key")
    return _cipher


def generate_key() -> str:
    return Fernet.generate_key().decode()


def load_or_create_key_file(path: Path) -> tuple[str, bool]:
    """The key kept in `path`; made (readable by the owner only) when there is none.
    Returns (key, created)."""
    if path.exists():
        return path.read_text("utf-8").strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key, True


def encrypt(plain: str) -> str:
    return cipher().encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(stored: str) -> str:
    if not stored.startswith(_TOKEN_PREFIX):
        return stored  # written before encryption was switched on
    try:
        return cipher().decrypt(stored.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise RuntimeError(
            "a stored value cannot be decrypted with the configured data keys — "
            "was the key changed without keeping the old one in the list?"
        ) from None


def rotate(stored: str) -> str:
    """Re-encrypts with the newest key (and encrypts legacy plain text)."""
    if not stored.startswith(_TOKEN_PREFIX):
        return encrypt(stored)
    return cipher().rotate(stored.encode("ascii")).decode("ascii")


class EncryptedText(TypeDecorator[str]):
    """Text in Python, a Fernet token in the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)
