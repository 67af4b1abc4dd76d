"""Inventory changes pushed to every process on PostgreSQL: LISTEN/NOTIFY on the generation.

Every process serving phones keeps caches valid for one inventory generation and
re-reads the generation at most every half second (the resolver's poll), so a change
made by any process or host is served everywhere within that poll. On PostgreSQL the
writer also says so: :func:`notify_generation` runs ``pg_notify`` in the very
transaction that moves the generation (``bump_generation``), so the notification is
delivered when, and only when, the change commits, and never before it is visible.
Each ``plugtone serve`` process keeps one more connection, a :class:`ChangeFeed`,
LISTENing on :data:`CHANNEL`; a notification wakes the generation check at once
(the resolver asks the store what changed and drops only that, off the request path).

The poll stays as the fallback: a lost connection loses notifications, so while the
feed is down every process still sees each change within the poll, and the feed
forces one generation check each time it is listening again (whatever it missed).
It reconnects by itself, with pauses growing to :data:`RETRY_MAX`.

On SQLite every process using the store is on one host, so the wake-up is local
(:class:`HostFeed`): each serving process binds a Unix datagram socket in a directory
beside the database file (``plugtone.db-wake/<pid>``, mode 0700 like the data
directory, so only its owner can send to it), and a writer whose commit moved the
generation sends one byte to each socket there (:func:`watch_local_commits`, hooked
on the store's sessions). A socket no one holds any more (a killed process) is
removed by the next writer. The poll stays the fallback here too: a socket path too
long for ``AF_UNIX`` (108 bytes) or a lost datagram only leaves the change to it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CHANNEL = "plugtone_inventory"
"""The NOTIFY channel; the payload is the new generation."""
IDLE_CHECK = 15.0
"""Seconds of silence after which the feed checks that its connection is alive (a
host or network gone quiet does not close the socket)."""
RETRY_FIRST = 0.2
RETRY_MAX = 5.0
"""Pauses between reconnection attempts, doubling from the first to the last."""


def notify_generation(session: Session, generation: int) -> None:
    """Say, in the caller's transaction, that the generation is now ``generation``
    (PostgreSQL only; delivered at commit, dropped on rollback)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        text("SELECT pg_notify(:channel, :generation)"),
        {"channel": CHANNEL, "generation": str(generation)},
    )


def libpq_url(url: str) -> str:
    """The store URL as psycopg takes it (``postgresql://``, without SQLAlchemy's
    ``+psycopg`` driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeFeed:
    """A thread LISTENing for generation moves, calling ``on_change()`` for each burst.

    ``on_change`` runs on the feed's thread (it must be thread-safe: the resolver's
    ``refresh(force=True)`` is); it is also called each time the feed starts listening,
    for whatever moved while it was not. An exception it raises is logged, never fatal.
    """

    def __init__(
        self,
        url: str,
        on_change: Callable[[], object],
        *,
        channel: str = CHANNEL,
        idle_check: float = IDLE_CHECK,
    ) -> None:
        self.conninfo = libpq_url(url)
        self.on_change = on_change
        self.channel = channel
        self.idle_check = idle_check
        self.listening = threading.Event()
        """Set while the LISTEN is in place (cleared while reconnecting)."""
        self.wakeups = 0
        """Notification bursts delivered to ``on_change``."""
        self.connections = 0
        """Times the feed started listening (more than one: it reconnected)."""
        self.backend_pid: int | None = None
        """The PostgreSQL backend of the listening connection (for tests and logs)."""
        self._stopping = False
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)

    def start(self) -> ChangeFeed:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop listening and close the connection (the thread is woken at once)."""
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():  # still in a connection attempt: it ends by itself
            return
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- the thread

    def _run(self) -> None:
        import psycopg

        pause = RETRY_FIRST
        lost = False
        while not self._stopping:
            try:
                connection = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
            except psycopg.Error as error:
                if not lost:
                    log.warning("change feed cannot connect (%s); the generation poll stands in",
                                _first_line(error))  # fmt: skip
                    lost = True
                if self._sleep(pause):
                    return
                pause = min(pause * 2, RETRY_MAX)
                continue
            try:
                with connection:
                    connection.execute(f'LISTEN "{self.channel}"')
                    self.backend_pid = connection.info.backend_pid
                    self.connections += 1
                    self.listening.set()
                    if lost:
                        log.info("change feed listening again")
                    lost, pause = False, RETRY_FIRST
                    self._deliver()  # what moved while nothing listened
                    self._listen(connection)
            except psycopg.Error as error:
                if not self._stopping:
                    log.warning("change feed lost its connection (%s); reconnecting, the "
                                "generation poll stands in", _first_line(error))  # fmt: skip
                    lost = True
            finally:
                self.listening.clear()
            if not self._stopping and self._sleep(pause):
                return

    def _listen(self, connection) -> None:
        """Until stopped or the connection fails: wait on its socket, hand each burst
        of notifications to ``on_change`` once."""
        pgconn = connection.pgconn
        while not self._stopping:
            ready, _, _ = select.select([connection.fileno(), self._wake_read], [], [],
                                        self.idle_check)  # fmt: skip
            if self._wake_read in ready:
                return
            if not ready:
                connection.execute("SELECT 1")  # raises if the peer went away in silence
                continue
            pgconn.consume_input()
            arrived = 0
            while pgconn.notifies() is not None:
                arrived += 1
            if arrived:
                self._deliver()
            else:  # readable with nothing for us: an error or the end of the connection
                connection.execute("SELECT 1")

    def _deliver(self) -> None:
        self.wakeups += 1
        try:
            self.on_change()
        except Exception:  # the poll still serves; the next notification tries again
            log.exception("change feed: the generation check failed")

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` or until stopped; whether stopped."""
        ready, _, _ = select.select([self._wake_read], [], [], seconds)
        return bool(ready) or self._stopping


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


# -- one host (SQLite): Unix datagram sockets beside the database file

WAKE_SUFFIX = "-wake"
"""The wake directory is the database file's path plus this (``plugtone.db-wake``)."""
MOVED = "plugtone_generation_moved"
"""``Session.info`` key :func:`note_generation` sets for the commit hook."""


def wake_directory(database: Path) -> Path:
    return database.with_name(database.name + WAKE_SUFFIX)


def note_generation(session: Session, generation: int) -> None:
    """Remember, for :func:`watch_local_commits`' hook, that this transaction moves the
    generation (SQLite only; PostgreSQL has its NOTIFY)."""
    session.info[MOVED] = generation


def watch_local_commits(sessions, database: Path) -> None:
    """Have every session of ``sessions`` (a sessionmaker of a SQLite store in
    ``database``) wake the serving processes of this host after a commit that moved
    the generation; a rollback forgets it."""
    from sqlalchemy import event

    def committed(session: Session) -> None:
        if session.info.pop(MOVED, None) is not None:
            wake_host(database)

    def rolled_back(session: Session, *_: object) -> None:
        session.info.pop(MOVED, None)

    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_rollback", rolled_back)


def wake_host(database: Path) -> int:
    """Send a wake-up to every serving process of ``database``; how many got one. A
    socket that refuses (its process is gone) is removed; a full one is skipped (its
    process has a wake-up pending already)."""
    directory = wake_directory(database)
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    woken = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        for name in names:
            path = directory / name
            try:
                sender.sendto(b"g", str(path))
                woken += 1
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    path.unlink()
            except OSError:  # EAGAIN (queue full), a path too long: the poll covers it
                continue
    return woken


class HostFeed:
    """A thread receiving this host's wake-ups for a SQLite store, calling
    ``on_change()`` once per burst (as :class:`ChangeFeed` does for PostgreSQL)."""

    def __init__(self, database: Path, on_change: Callable[[], object]) -> None:
        self.directory = wake_directory(database)
        self.path = self.directory / str(os.getpid())
        self.on_change = on_change
        self.listening = threading.Event()
        self.wakeups = 0
        self._socket: socket.socket | None = None
        self._stopping = False
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="host-feed", daemon=True)

    def start(self) -> HostFeed:
        try:
            self.directory.mkdir(mode=0o700, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # a process of the same pid before a reboot
            receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            receiver.bind(str(self.path))
        except OSError as error:  # a path too long for AF_UNIX, a read-only directory
            log.info("no wake-up socket at %s (%s): the generation poll alone tells this "
                     "process of other processes' changes", self.path, error)  # fmt: skip
            return self
        receiver.setblocking(False)
        self._socket = receiver
        self.listening.set()
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
            with contextlib.suppress(OSError):
                self.path.unlink()
        self.listening.clear()
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _run(self) -> None:
        assert self._socket is not None
        while not self._stopping:
            ready, _, _ = select.select([self._socket, self._wake_read], [], [])
            if self._wake_read in ready:
                return
            with contextlib.suppress(BlockingIOError):
                while self._socket.recv(16):  # one check for the whole burst
                    pass
            self.wakeups += 1
            try:
                self.on_change()
            except Exception:
                log.exception("host feed: the generation check failed")


def start_change_feed(store, on_change: Callable[[], object]) -> ChangeFeed | HostFeed | None:
    """The feed that tells this process of other processes' changes to ``store`` at
    once: LISTEN/NOTIFY on PostgreSQL, this host's wake-up sockets on a SQLite file."""
    from plugtone.inventory.store import sqlite_file

    if store.dialect == "postgresql":
        return ChangeFeed(store.url, on_change).start()
    database = sqlite_file(store.url)
    if database is not None:
        return HostFeed(database, on_change).start()
    return None
