"""``plugtone rotate-key``: a new secret key, every secret sealed again with it.

The order makes every moment recoverable: the keys in use are first saved to
``secret.key.old``; every secret is re-sealed and the new key written to
``secret.key`` (temporary file, fsync, rename) inside one transaction; only after
the commit succeeded is ``secret.key.old`` removed. A crash before the commit
leaves the old values with the old keys in ``secret.key.old``, which plugtone reads
too; a failed commit puts the old key file back. Running servers on this data
directory see the key file change and read it again when they meet a value sealed
with a key they lack; servers elsewhere need the new file (and a restart).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from plugtone.inventory.models import Base, Meta
from plugtone.inventory.secret_column import SecretText
from plugtone.inventory.secret_keys import (
    ENV_KEY,
    OLD_KEY_FILE,
    Keyring,
    SecretKeyError,
    new_key,
    sync_directory,
    write_key_file,
)
from plugtone.inventory.store import KEY_CHECK, KEY_CHECK_TEXT, Store, lock_inventory


@dataclass(frozen=True)
class Rotation:
    old_key: str
    new_key: str
    secrets: int
    """How many values were sealed again."""


def secret_columns() -> list[tuple[str, str]]:
    """``(table, column)`` of every :class:`SecretText` column of the schema."""
    return [
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, SecretText)
    ]


def rotate_key(store: Store) -> Rotation:
    """Seal every secret of ``store`` with a new key that replaces its key file."""
    source = store.keys
    if source.from_environment:
        raise SecretKeyError(
            f"{ENV_KEY} is set, and plugtone cannot replace a key it does not keep: unset "
            f"it (the key file is then used) or change the variable yourself"
        )
    if source.key_file is None:
        raise SecretKeyError("this store has no key file to rotate (give --data)")
    key_file = source.key_file
    old_file = key_file.with_name(OLD_KEY_FILE)
    before = source.keyring()
    saved = {path: path.read_bytes() if path.exists() else None for path in (key_file, old_file)}
    after = Keyring(new_key(), source=str(key_file))
    with store.sessions() as session:
        lock_inventory(session)
        count = _reseal(session, before, after)
        session.execute(
            sa.update(Meta).where(Meta.key == KEY_CHECK).values(value=after.seal(KEY_CHECK_TEXT))
        )
        # every key a value may still be sealed with, in case the commit never happens
        write_key_file(old_file, [before.current, *before.older])
        write_key_file(key_file, [after.current])
        try:
            session.commit()
        except BaseException:
            _restore(saved)
            raise
    old_file.unlink(missing_ok=True)
    sync_directory(key_file.parent)
    source.reset()
    return Rotation(before.current_id, after.current_id, count)


def _reseal(session: Session, before: Keyring, after: Keyring) -> int:
    """Open every secret with ``before`` and seal it with ``after``; the count."""
    count = 0
    for table_name, column in secret_columns():
        table = sa.table(table_name, sa.column("id", sa.Integer), sa.column(column, sa.Text))
        rows = session.execute(
            sa.select(table.c.id, table.c[column]).where(table.c[column].isnot(None))
        ).all()
        if not rows:
            continue
        session.execute(
            table.update()
            .where(table.c.id == sa.bindparam("row_id"))
            .values({column: sa.bindparam("value")}),
            [{"row_id": row_id, "value": after.seal(before.open(value))} for row_id, value in rows],
        )
        count += len(rows)
    return count


def _restore(saved: dict) -> None:
    """Put the key files back as they were before a rotation that did not commit."""
    for path, content in saved.items():
        if content is None:
            path.unlink(missing_ok=True)
        else:
            write_key_file(path, _keys_of(content))


def _keys_of(content: bytes) -> list[bytes]:
    from plugtone.inventory.secret_keys import decode_key

    lines = [line.strip() for line in content.decode("ascii").splitlines()]
    return [decode_key(line, "the saved key") for line in lines if line and line[0] != "#"]
