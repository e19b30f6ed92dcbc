"""Re-encrypting every stored secret with the newest data key (and encrypting old plain text)."""

from __future__ import annotations

from sqlalchemy import Table, Text, cast, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.crypto import EncryptedText, rotate
from storage.models import Base

BATCH = 500


def encrypted_columns() -> list[tuple[Table, list[str]]]:
    found = []
    for table in Base.metadata.sorted_tables:
        names = [c.name for c in table.columns if isinstance(c.type, EncryptedText)]
        if names:
            found.append((table, names))
    return found


async def rotate_all(connection: AsyncConnection) -> int:
    """Rewrites every encrypted value with the first key; returns how many values changed.
    Reads the raw stored text (not through the type), so plain legacy rows are included."""
    changed = 0
    for table, names in encrypted_columns():
        raw = [cast(table.c[name], Text) for name in names]  # the stored text, undecrypted
        last_id = 0
        while True:
            rows = (
                await connection.execute(
                    select(table.c.id, *raw)
                    .where(table.c.id > last_id)
                    .order_by(table.c.id)
                    .limit(BATCH)
                )
            ).all()
            if not rows:
                break
            for row in rows:
                values = {
                    name: rotate(value)
                    for name, value in zip(names, row[1:], strict=True)
                    if value is not None
                }
                if values:
                    # bound as plain Text: these are tokens already, not to be encrypted again
                    await connection.execute(
                        update(table)
                        .where(table.c.id == row[0])
                        .values({name: literal(v, Text) for name, v in values.items()})
                    )
                    changed += len(values)
            last_id = rows[-1][0]
    return changed
