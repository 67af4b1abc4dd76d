"""The row writes of a planned apply, and executing them in bulk.

A plan lists every insert, update and delete as plain dictionaries per table. Rows
that point at an object the same plan creates hold a :class:`Ref` (``site hq``)
instead of an id, resolved when the parent's insert hands its ids back. Writing is
a fixed sequence of statements per table in foreign-key order: multi-row INSERTs
(SQLAlchemy's insertmanyvalues, with ``RETURNING`` in parameter order where the ids
are needed), executemany UPDATEs by id, and DELETEs by id or owner in IN-list
chunks; no ORM unit of work per object. Deleting a phone, site or model leaves its
lines, keys, settings, contacts and pins to the schema's ``ON DELETE CASCADE``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, delete, insert, text, update
from sqlalchemy.orm import Session

from plugtone.inventory.models import Base
from plugtone.inventory.secret_column import SecretText, keys_of
from plugtone.services.apply_snapshot import chunks, member_of, owned_by


class Ref(NamedTuple):
    """An object the plan creates, by kind and natural key: ``Ref("site", "hq")``."""

    kind: str
    key: Hashable


ID_TABLES = {
    "branding": "branding_sets",
    "site": "sites",
    "extension": "extensions",
    "model": "model_profiles",
    "phone": "phones",
}
"""The tables whose new rows others point at, by the kind a :class:`Ref` names."""

INSERT_ORDER = (
    "blobs",
    "branding_sets",
    "sites",
    "extensions",
    "model_profiles",
    "phones",
    "line_assignments",
    "keys",
    "directory_contacts",
    "branding_files",
    "vendor_settings",
    "firmware_pins",
)
PRUNE_ORDER = ("extensions", "model_profiles", "sites", "branding_sets")
"""Deleted last, children first: what still points at them is gone by then."""
COPY_TABLES = frozenset(
    ("keys", "vendor_settings", "line_assignments", "directory_contacts", "branding_files")
)
"""Written with COPY on PostgreSQL (see :func:`_copy`)."""
ANALYZE_ROWS = 1_000
"""On PostgreSQL, a table that just received this many rows is analysed in the same
transaction: until autovacuum gets round to it (a minute or more), the planner has no
statistics for the new rows and picks sequential scans, which made planning the next
apply of 10,000 phones twice as slow."""


@dataclass
class RowWrites:
    """Everything an apply writes, table by table."""

    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    inserted_keys: dict[str, list[Hashable]] = field(default_factory=lambda: defaultdict(list))
    """For the tables in :data:`ID_TABLES`: each inserted row's natural key, in order."""
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    """Rows with ``id`` and the full set of columns to set (the same per table)."""
    deletes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    """Row ids to delete, before the inserts (replaced rows, pruned phones)."""
    owner_deletes: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )
    """``(table, owner column)`` -> owner ids whose rows are replaced wholesale."""
    pruned: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    """Row ids deleted last (:data:`PRUNE_ORDER`)."""

    def __repr__(self) -> str:  # rows hold passwords: never print them
        counts = {name: len(rows) for name, rows in self.inserts.items() if rows}
        return f"<RowWrites inserts={counts}>"

    def insert(self, table: str, row: dict[str, Any], key: Hashable | None = None) -> None:
        self.inserts[table].append(row)
        if key is not None:
            self.inserted_keys[table].append(key)

    @property
    def empty(self) -> bool:
        return not any(
            any(group.values())
            for group in (
                self.inserts,
                self.updates,
                self.deletes,
                self.owner_deletes,
                self.pruned,
            )
        )

    def execute(self, session: Session) -> dict[Ref, int]:
        """Run every write in foreign-key order; returns the new objects' ids."""
        ids: dict[Ref, int] = {}
        tables = Base.metadata.tables
        postgres = session.get_bind().dialect.name == "postgresql"
        for name in ("phones",):  # pruned phones go first: they free extensions
            _delete_ids(session, tables[name], self.deletes.get(name, ()), postgres)
        for (name, column), owners in self.owner_deletes.items():
            table = tables[name]
            for chunk in chunks(owners):
                session.execute(delete(table).where(owned_by(table, column, chunk, postgres)))
        for name, row_ids in self.deletes.items():
            if name != "phones":
                _delete_ids(session, tables[name], row_ids, postgres)
        kinds = {table: kind for kind, table in ID_TABLES.items()}
        for name in INSERT_ORDER:
            table = tables[name]
            rows = self.inserts.get(name)
            updates = self.updates.get(name)
            if updates:
                _update(session, table, [_resolved(row, ids) for row in updates])
            if not rows:
                continue
            if name not in kinds:
                if postgres and name in COPY_TABLES:
                    _copy(session, table, rows, ids)
                else:
                    session.execute(insert(table), [_resolved(row, ids) for row in rows])
                continue
            resolved = [_resolved(row, ids) for row in rows]
            statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            new_ids = session.execute(statement, resolved).scalars().all()
            kind = kinds[name]
            for key, new_id in zip(self.inserted_keys[name], new_ids, strict=True):
                ids[Ref(kind, key)] = new_id
        for name in PRUNE_ORDER:
            _delete_ids(session, tables[name], self.pruned.get(name, ()), postgres)
        if postgres:
            for name, rows in self.inserts.items():
                if len(rows) >= ANALYZE_ROWS:
                    session.execute(text(f"ANALYZE {tables[name].name}"))
        return ids


def _copy(session: Session, table: Table, rows: list[dict[str, Any]], ids: dict[Ref, int]) -> None:
    """PostgreSQL's ``COPY ... FROM STDIN`` through the driver, in the session's
    transaction: four times as fast as an executemany INSERT for the hundreds of
    thousands of keys, settings and lines of a fleet. Only for :data:`COPY_TABLES`,
    whose columns are text, numbers and NULLs, which the driver's text format carries
    as they are. COPY bypasses SQLAlchemy's column types, so a secret column
    (:class:`~plugtone.inventory.secret_column.SecretText`; none of these tables has
    one today) is sealed here, as the type would have."""
    columns = list(rows[0])  # every row has the same keys, maybe in another order
    connection = session.connection()
    keys = keys_of(connection.dialect)
    sealed = {name for name in columns if isinstance(table.c[name].type, SecretText)}
    driver = connection.connection.driver_connection
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            values = [ids[row[n]] if type(row[n]) is Ref else row[n] for n in columns]
            if sealed:
                values = [
                    keys.seal(value) if name in sealed and value is not None else value
                    for name, value in zip(columns, values, strict=True)
                ]
            copy.write_row(values)


def _resolved(row: dict[str, Any], ids: dict[Ref, int]) -> dict[str, Any]:
    return {name: ids[value] if type(value) is Ref else value for name, value in row.items()}


def _delete_ids(session: Session, table: Table, row_ids: Iterable[int], postgres: bool) -> None:
    for chunk in chunks(row_ids):
        session.execute(delete(table).where(member_of(table.c.id, chunk, postgres)))


def _update(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """One executemany UPDATE by id per set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(name for name in row if name != "id"))].append(row)
    for columns, group in groups.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({name: bindparam(f"new_{name}") for name in columns})
        )
        session.execute(
            statement,
            [{"row_id": row["id"], **{f"new_{n}": row[n] for n in columns}} for row in group],
        )
