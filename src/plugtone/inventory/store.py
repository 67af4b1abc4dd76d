"""Opening the store: engines, sessions, migrations and the inventory generation.

SQLite (a file under the data directory) is the embedded default for one machine;
a ``postgresql://`` URL lets any number of plugtone processes share one database.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from plugtone.inventory.models import Meta
from plugtone.inventory.private_files import create_private_file, secure_data_files
from plugtone.inventory.secret_column import attach_keys, keys_of
from plugtone.inventory.secret_keys import KEY_FILE, OLD_KEY_FILE, KeySource, SecretKeyError

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (and the dialects it loads) is imported only to migrate: every command checks
# the store's revision, and reading it costs one query, not Alembic's import.
MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
GENERATION_KEY = "inventory_generation"
KEY_CHECK = "secret_key_check"
"""Meta row holding a sealed known text: opening it proves the key is this store's."""
KEY_CHECK_TEXT = "plugtone"
BUSY_TIMEOUT = 30.0
"""Seconds a writer waits for another's turn before giving up (:class:`StoreBusy`)."""
BUSY_MESSAGE = "the store is busy (another change is being written); try again"


class StoreError(RuntimeError):
    """The store cannot be opened or is not at the schema this code expects."""


class StoreBusy(StoreError):
    """Another writer held the inventory write lock for longer than the busy timeout.

    Nothing was written; the caller rolls back and may try again.
    """

    def __init__(self) -> None:
        super().__init__(BUSY_MESSAGE)


def normalize_url(url: str) -> str:
    """Accept the URLs people type (``postgresql://``) and pick plugtone's driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'plugtone.db').resolve()}"


def create_store_engine(url: str, *, busy_timeout: float = BUSY_TIMEOUT) -> Engine:
    """An engine with the per-dialect settings plugtone relies on.

    ``busy_timeout`` (seconds) is how long a statement waits for a lock another
    connection holds before failing: SQLite's busy timeout, PostgreSQL's
    ``lock_timeout``. ``hide_parameters`` keeps every bound value (a SIP password)
    out of SQLAlchemy's error messages, which end up in logs and on terminals.
    """
    url = normalize_url(url)
    milliseconds = max(1, int(busy_timeout * 1000))
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            # WAL lets the servers read while the event log writes; foreign keys are
            # off by default in SQLite and the schema depends on them.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # a replaced or deleted secret is zeroed, not left in free space for a copy
            # of the file to show
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute(f"PRAGMA busy_timeout={milliseconds}")
            cursor.close()

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        hide_parameters=True,
        # set at connection start: a SET inside a transaction is undone by its rollback
        connect_args={"options": f"-c lock_timeout={milliseconds}"},
    )


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision``; safe to call on every start."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
    if engine.dialect.name == "sqlite":
        # the WAL still holds the pages as they were before (clear-text secrets, before
        # 0007): fold it into the database, where secure_delete zeroed them
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


_REVISION = re.compile(r"""^revision\s*(?::[^=\n]*)?=\s*["']([^"'\n]+)["']\s*$""", re.M)
_DOWN_REVISION = re.compile(
    r"""^down_revision\s*(?::[^=\n]*)?=\s*(?:None|["']([^"'\n]+)["'])\s*$""", re.M
)


@functools.cache
def head_revision() -> str:
    """The newest schema revision of the migration scripts.

    Read from the scripts' ``revision`` and ``down_revision`` lines rather than through
    Alembic's script directory (which imports Alembic and every script); when the
    scripts are not one plain chain (a merge, a line written another way), Alembic
    decides.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1:
            return _alembic_head()
        revisions.add(revision[0])
        parents.update(filter(None, down))
    heads = revisions - parents
    if len(heads) != 1 or not parents <= revisions:
        return _alembic_head()
    return heads.pop()


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the store was migrated to (``None``: never), from the table Alembic
    keeps it in."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    if len(found) > 1:
        raise StoreError(
            f"the store records {len(found)} schema revisions at once; this plugtone needs "
            f"one, {head_revision()}"
        )
    return found[0][0] if found else None


def check_schema(engine: Engine) -> None:
    """Refuse to run against a store at another schema revision."""
    current = current_revision(engine)
    if current != head_revision():
        raise StoreError(
            f"the store is at schema revision {current or 'none'}, this plugtone needs "
            f"{head_revision()}: run 'plugtone init' (it migrates) first"
        )


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; ``None`` for in-memory or other stores."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def key_source_for(url: str, data_dir: Path | None) -> KeySource:
    """Where a store's secret key lives: ``PLUGTONE_SECRET_KEY``, else ``secret.key`` in
    ``data_dir``, or, for a SQLite file, next to the database; a throw-away key for an
    in-memory database. A PostgreSQL store opened without a data directory has a key
    only from the environment."""
    database = sqlite_file(url)
    if data_dir is None and database is not None:
        data_dir = database.parent
    in_memory = data_dir is None and make_url(url).drivername.startswith("sqlite")
    return KeySource(data_dir / KEY_FILE if data_dir else None, ephemeral=in_memory)


class Store:
    """An engine plus a session factory; one per process.

    The store's secret key (:mod:`plugtone.inventory.secret_keys`) rides on its engine,
    so everything that runs statements on it seals and opens secret columns with it.
    ``keys`` overrides where it comes from (tests); else :func:`key_source_for`.
    """

    def __init__(
        self,
        url: str,
        *,
        busy_timeout: float = BUSY_TIMEOUT,
        data_dir: Path | None = None,
        keys: KeySource | None = None,
    ) -> None:
        self.url = normalize_url(url)
        database = sqlite_file(self.url)
        if database is not None:
            create_private_file(database)
        self.engine = create_store_engine(self.url, busy_timeout=busy_timeout)
        self.keys = keys or key_source_for(self.url, data_dir)
        attach_keys(self.engine, self.keys)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        if database is not None:  # commits that move the generation wake this host's servers
            from plugtone.inventory.change_feed import watch_local_commits

            watch_local_commits(self.sessions, database)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def generation(self) -> int:
        with self.sessions() as session:
            return read_generation(session)

    def dispose(self) -> None:
        self.engine.dispose()


def secure_store_files(data_dir: Path, url: str, extra: tuple[Path, ...] = ()) -> list[Path]:
    """Narrow the modes of the data directory, the SQLite files, the key files and
    ``extra`` (the TLS key), warning for each that was wider."""
    keys = (data_dir / KEY_FILE, data_dir / OLD_KEY_FILE, *extra)
    return secure_data_files(data_dir, sqlite_file(normalize_url(url)), keys)


def check_secret_key(engine: Engine) -> None:
    """Refuse to run with a key that is not this store's (one :class:`SecretKeyError`
    line), before anything is served or written with it."""
    with engine.connect() as connection:
        sealed = connection.scalar(select(Meta.value).where(Meta.key == KEY_CHECK))
    source = keys_of(engine.dialect)
    if sealed is None:  # a store none of whose secrets were sealed yet
        source.keyring()
        return
    if source.open(sealed) != KEY_CHECK_TEXT:  # pragma: no cover - AES-GCM authenticates
        raise SecretKeyError("the secret key does not open this store's secrets")


def read_generation(session: Session) -> int:
    value = session.scalar(select(Meta.value).where(Meta.key == GENERATION_KEY))
    return int(value) if value is not None else 0


def bump_generation(session: Session) -> int:
    """Mark the inventory changed inside the caller's transaction.

    The row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL) so concurrent writers
    serialise and every committed change gets its own generation number. On
    PostgreSQL the same transaction NOTIFYs every listening process; on SQLite the
    commit wakes this host's (:mod:`plugtone.inventory.change_feed`).
    """
    row = session.scalar(select(Meta).where(Meta.key == GENERATION_KEY).with_for_update())
    if row is None:
        row = Meta(key=GENERATION_KEY, value="0")
        session.add(row)
    row.value = str(int(row.value) + 1)
    session.flush()
    from plugtone.inventory.change_feed import note_generation, notify_generation

    notify_generation(session, int(row.value))  # PostgreSQL: every listener, at commit
    note_generation(session, int(row.value))  # SQLite: this host's processes, after it
    return int(row.value)


def lock_inventory(session: Session) -> None:
    """Take the inventory write lock for the rest of the transaction.

    Waits for another writer's turn up to the busy timeout, then raises
    :class:`StoreBusy` (the caller rolls back). The lock is the generation row, made
    if missing: on PostgreSQL it is locked ``FOR UPDATE``; on SQLite, where row locks
    do not exist, inserting it (a no-op when it is there) takes the database's write
    lock, as ``BEGIN IMMEDIATE`` would, instead of at the first real write, where a
    transaction that has been reading cannot wait and fails at once.

    On SQLite, take it before reading, or after ending a read-only transaction: a
    transaction that has read a snapshot cannot wait for a newer one.
    """
    dialect = session.get_bind().dialect.name
    # the engine has loaded its dialect's module already: these import nothing new
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    upsert = insert(Meta)
    try:
        session.execute(
            upsert.values(key=GENERATION_KEY, value="0").on_conflict_do_nothing(
                index_elements=[Meta.key]
            )
        )
        if dialect != "sqlite":
            session.scalar(select(Meta).where(Meta.key == GENERATION_KEY).with_for_update())
    except OperationalError as error:
        if is_busy(error):
            raise StoreBusy() from None
        raise


def is_busy(error: OperationalError) -> bool:
    """Whether ``error`` is a lock wait that ran out (SQLite or PostgreSQL)."""
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    if code in ("55P03", "40P01"):  # lock_not_available, deadlock_detected
        return True
    text = str(getattr(error, "orig", error)).lower()
    return "database is locked" in text or "database is busy" in text
