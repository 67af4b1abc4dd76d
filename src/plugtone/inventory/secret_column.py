"""A column type that keeps its values encrypted in the database.

:class:`SecretText` seals on the way in and opens on the way out, for every
statement that knows the column's type: ORM loads and flushes, Core selects,
inserts and executemany updates alike. What bypasses SQLAlchemy's types (raw
``COPY`` through the driver, ``text()`` without types) must call
:func:`seal`/:func:`open_secret` itself; no secret column is written that way today.

Whose key? Each engine's dialect object carries the :class:`KeySource` of the store
that made it (:func:`attach_keys`, done by ``Store``): a type processor is handed
the dialect, so every user of a store gets that store's key without it being
threaded through each call, and two stores in one process (tests, benches) never
share a key by accident.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from plugtone.inventory.secret_keys import KeySource, SecretKeyError

_ATTRIBUTE = "plugtone_key_source"


def attach_keys(engine: Engine, source: KeySource) -> None:
    """Make ``source`` the keys of every statement run on ``engine``."""
    setattr(engine.dialect, _ATTRIBUTE, source)


def keys_of(dialect: Dialect) -> KeySource:
    source = getattr(dialect, _ATTRIBUTE, None)
    if source is None:
        raise SecretKeyError(
            "this store was opened without a secret key (open it with plugtone's Store)"
        )
    return source


class SecretText(TypeDecorator[str]):
    """Text stored sealed (AES-GCM, see :mod:`plugtone.inventory.secret_keys`).

    Stored as ``TEXT``: a sealed value is about 4/3 of its clear text plus 60
    characters. On SQLite the column keeps the ``VARCHAR(255)`` the first migrations
    made: SQLite enforces no declared length, and changing a column's type there means
    rebuilding ``sites`` and ``extensions``, which other tables reference.

    A value read back that is not sealed raises instead of being handed over as it
    is: clear text in a secret column is a fault to fix, never a password to serve.
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return String(255)
        return Text()

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keys_of(dialect).seal(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keys_of(dialect).open(value)

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        raise SecretKeyError("a secret is never rendered into SQL text")


class SecretLongText(SecretText):
    """:class:`SecretText` that is ``TEXT`` on every dialect: for values with no length
    bound worth declaring (raw vendor settings, which may hold a whole dial plan)."""

    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return Text()
