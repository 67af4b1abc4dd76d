"""Every table of the store as plain JSON rows, and back: the body of a backup.

Generic over ``Base.metadata``: a column added by a later migration (and to the
models, as every migration must) is dumped and loaded with no change here. Each
value is written by the kind of its column, so the rows read the same on SQLite and
PostgreSQL:

- ``bytes`` (``LargeBinary``, the blobs): base64;
- ``datetime``: ISO 8601 in UTC (SQLite hands back naive UTC times, PostgreSQL
  aware ones in the session's zone: both are written ``+00:00``);
- ``secret`` (:class:`~plugtone.inventory.secret_column.SecretText`): the sealed
  text as stored, never opened. A backup therefore holds no clear password, and the
  store it restores into needs the same key (the archive carries it unless made
  ``--without-key``);
- ``json`` and ``value``: as JSON has them.

Secret columns are read and written through a copy of each table whose secret
columns are plain ``TEXT``: the sealed value passes through untouched (the real
column type would open it on the way out and seal it again on the way in).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    LargeBinary,
    MetaData,
    Table,
    Text,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.types import TypeEngine

from plugtone.inventory.models import Base
from plugtone.inventory.secret_column import SecretText

BATCH = 1_000
"""Rows per ``executemany`` insert and per fetch from a streamed result."""


def column_kind(column_type: TypeEngine[Any]) -> str:
    """How a column's values are written: ``secret``, ``bytes``, ``datetime``, ``json``
    or ``value``."""
    if isinstance(column_type, SecretText):
        return "secret"
    if isinstance(column_type, LargeBinary):
        return "bytes"
    if isinstance(column_type, DateTime):
        return "datetime"
    if isinstance(column_type, JSON):
        return "json"
    return "value"


def tables() -> list[Table]:
    """The store's tables, each before the tables that reference it."""
    return list(Base.metadata.sorted_tables)


def raw_table(table: Table, columns: Iterable[str] | None = None) -> Table:
    """A bare copy of ``table`` (only ``columns``, by default all) whose secret columns
    are ``TEXT``: reads and writes sealed values as they are stored."""
    wanted = [table.c[name] for name in columns] if columns is not None else list(table.c)
    copies = [
        Column(column.name, Text() if isinstance(column.type, SecretText) else column.type,
               primary_key=column.primary_key)
        for column in wanted
    ]  # fmt: skip
    return Table(table.name, MetaData(), *copies)


def encode(kind: str, value: Any) -> Any:
    """A column value as JSON (see the module docstring)."""
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind == "datetime":
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    return value


def decode(kind: str, value: Any) -> Any:
    """The inverse of :func:`encode`."""
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64decode(value, validate=True)
    if kind == "datetime":
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value


def describe(table: Table) -> list[list[str]]:
    """``[[column, kind], ...]`` of a table, as the manifest records them."""
    return [[column.name, column_kind(column.type)] for column in table.c]


def dump_rows(connection: Connection, table: Table) -> Iterator[dict[str, Any]]:
    """Every row of ``table`` as a JSON-ready dict, in primary-key order, streamed."""
    kinds = {column.name: column_kind(column.type) for column in table.c}
    raw = raw_table(table)
    query = select(raw).order_by(*raw.primary_key.columns)
    result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(query)
    for row in result.mappings():
        yield {name: encode(kinds[name], value) for name, value in row.items()}


def load_rows(
    connection: Connection, table: Table, columns: list[list[str]], rows: Iterable[dict]
) -> int:
    """Insert ``rows`` (as :func:`dump_rows` wrote them, with the archive's ``columns``)
    into ``table``; returns how many. Columns this plugtone's models lack (an archive
    newer than the code) are refused before, by the schema revision check."""
    kinds = dict((name, kind) for name, kind in columns)
    raw = raw_table(table, list(kinds))
    count = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append({name: decode(kinds[name], row.get(name)) for name in kinds})
        if len(batch) >= BATCH:
            connection.execute(insert(raw), batch)
            count += len(batch)
            batch = []
    if batch:
        connection.execute(insert(raw), batch)
        count += len(batch)
    return count


def clear_tables(connection: Connection) -> None:
    """Delete every row, referencing tables first: the migrations of a new store seed a
    few rows (the key check), which the archive's rows replace."""
    for table in reversed(tables()):
        connection.execute(delete(table))


def reset_sequences(connection: Connection) -> None:
    """On PostgreSQL, move each serial primary key's sequence past the largest id
    restored: rows came with explicit ids, which do not advance a sequence, and the next
    insert would otherwise collide with a restored row."""
    if connection.dialect.name != "postgresql":
        return  # SQLite's INTEGER PRIMARY KEY takes the largest id + 1 by itself
    for table in tables():
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or column_kind(keys[0].type) != "value":
            continue
        name = keys[0].name
        sequence = connection.scalar(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": name},
        )
        if sequence is None:
            continue
        largest = connection.scalar(select(func.max(table.c[name])))
        if not isinstance(largest, int):
            continue
        connection.execute(
            text("SELECT setval(:sequence, :value, false)"),
            {"sequence": sequence, "value": largest + 1},
        )


def existing_tables(connection: Connection) -> list[str]:
    """The tables a database has (in its default schema)."""
    return inspect(connection).get_table_names()
