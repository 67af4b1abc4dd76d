"""FTP for phones that boot from FTP (some vendors ship with it as the default), on aioftp.

There is no file system behind it: a virtual tree whose files are whatever the
resolver answers for the path, and whose only writable names are the uploads a
vendor plug-in declares (boot and application logs, local overrides, contact
directories), stored per device and size-capped. So ``CWD ..`` cannot leave the
root, a listing shows nothing (one phone cannot enumerate another's files), and a
write anywhere else is refused before any data flows.

Stored files (firmware, tens of MB) are streamed from disk in :data:`CHUNK` pieces,
never read whole; ``SIZE`` gives their stored size and ``REST`` a restart offset (a phone
that lost its connection mid-image resumes). Rendered files go the same way from
memory, so every RETR is resolved (and screened by the sweep guard) exactly once. The
event log hears of a RETR when it ends: ``ok`` with every byte sent, ``partial`` for a
restarted transfer sent to its end, ``incomplete`` otherwise. Stored files are not sent
by ``sendfile``: FTP firmware is rare next to HTTP, and aioftp's stream gives the
per-write timeout for free.

Logins, and what they prove:

- a vendor's factory account (each plug-in declares its own in ``factory_ftp_accounts``,
  unless they are turned off), an account added in the settings, or a site's own
  account: *gates* only. Their passwords are public or shared by a site, so they prove
  nothing about which phone is asking: the requests of such a session are trusted only
  as their address or an armed window allows (a site account also confines the session
  to its site's phones);
- a phone's own provisioning login (``http_user``/``http_password`` of the inventory,
  :meth:`Resolver.device_login`): every request of the session then carries those
  credentials and names that phone (``FileRequest.mac``), and the resolver decides it
  is *authenticated* for that phone's files (and for nothing of another phone's).

Login throttling (:meth:`SweepGuard.login_attempt`): failed logins are counted per
address and, for logins that may authenticate a phone (not the gates), per account;
after a few, each attempt waits before its password is even checked (1 s, doubling up
to a cap), and an address with many failures is answered 421 and disconnected for a
while. An account is only ever delayed, so nobody can lock a phone out by failing its
login.
Attempts of one connection are taken one at a time (aioftp runs commands as tasks, so
a pipelined stream of ``PASS`` would otherwise wait in parallel).

To a stranger, a per-device name answers ``SIZE`` exactly as ``RETR`` would send it (the
stranger file's size, or 550), the same for known and unknown MACs; a blocked
stranger (:mod:`plugtone.provisioning.sweep_guard`) gets 550 as for a missing file. An
upload (``STOR``/``APPE``) the resolver does not authorize (an undeclared name, a
stranger, or a phone the session may not act as) gets one and the same 550 before any
data flows.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import aioftp
from aioftp import pathio
from aioftp.server import Connection, ConnectionConditions, worker

from plugtone.provisioning.credentials import PasswordCredentials
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.resolver import MAX_LOGIN, Answer, FileRequest, Status
from plugtone.provisioning.uploads import UploadTooLarge

log = logging.getLogger(__name__)


class _HangUpsAreNoError(logging.Filter):
    """aioftp logs a traceback whenever a client closes its control connection without
    ``QUIT``: a phone that hangs up after its last file is no error, and in a boot
    storm that was a traceback per phone (1,146 for 1,000 Polycoms in bench/storm.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        problem = record.exc_info[1] if record.exc_info else None
        return not isinstance(problem, ConnectionResetError | BrokenPipeError)


logging.getLogger("aioftp.server").addFilter(_HangUpsAreNoError())

ROOT = Path("/")
CHUNK = 256 * 1024
"""Bytes read from a stored file and written to the data connection at a time."""
DRAIN_FACTOR = 4
"""An over-size upload is read (and discarded) up to this many times the cap, so the
client sees a clean 552 rather than a reset connection."""
UPLOAD_REFUSED = "uploads of this name are not allowed"
"""The one answer (550) to every upload that is not authorized, whatever the reason."""


@dataclass(frozen=True)
class FtpAccount:
    user: str
    password: str


class AccountManager(aioftp.AbstractUserManager):
    """Static accounts (the vendor default) plus each site's own account from the store.

    A phone that logs in with a site's account is confined to that site: it can read
    common files and the files of that site's phones, and upload only for them.
    """

    def __init__(self, provisioner: Provisioner, accounts: Iterable[FtpAccount]) -> None:
        super().__init__()
        self.provisioner = provisioner
        self.static = {account.user: account.password for account in accounts}
        self.sites: dict[str, str] = {}
        """login -> site, for users that logged in with a site's account."""
        # aioftp keeps per-user state keyed by the User object, so one object per
        # account is reused; a new one per login would grow without bound.
        self.users: dict[tuple[str, str | None], aioftp.User] = {
            (user, password): _user(user, password) for user, password in self.static.items()
        }
        self.nobody = _user("nobody", None)

    async def get_user(self, login: str):
        Response = aioftp.AbstractUserManager.GetUserResponse
        if login in self.static:
            user = self.users[(login, self.static[login])]
            return Response.PASSWORD_REQUIRED, user, "password required"
        account = await asyncio.to_thread(self.provisioner.resolver.ftp_account, login)
        if account is None:
            # Ask for a password anyway, so a scanner cannot tell which logins exist.
            return Response.PASSWORD_REQUIRED, self.nobody, "password required"
        site, password = account
        self.sites[login] = site
        user = self.users.setdefault((login, password), _user(login, password))
        return Response.PASSWORD_REQUIRED, user, "password required"

    async def authenticate(self, user: aioftp.User, password: str) -> bool:
        if user.password is None:
            return False
        return hmac.compare_digest(user.password.encode(), password.encode())

    def is_gate(self, login: str) -> bool:
        """A static account (factory or settings) or a site's: its password proves
        nothing about a phone, so failing it is counted against the address only; per
        account, anyone could make every phone of a vendor or a site wait."""
        return login in self.static or login in self.sites

    async def check(self, login: str, user: aioftp.User, password: str) -> tuple[bool, str | None]:
        """``(logged in, MAC)``: a gate account's password, else a phone's own login
        (the MAC it belongs to). A site account's name may also be a phone's login."""
        if await self.authenticate(user, password):
            return True, None
        if login in self.static or not login or len(login) > MAX_LOGIN:
            return False, None
        mac = await asyncio.to_thread(self.provisioner.resolver.device_login, login, password)
        return mac is not None, mac

    def site_of(self, connection: Connection) -> str | None:
        user = getattr(connection, "user", None)
        login = getattr(user, "login", None)
        return None if login in self.static else self.sites.get(login or "")


def _user(login: str, password: str | None) -> aioftp.User:
    return aioftp.User(
        login=login,
        password=password,
        base_path=ROOT,
        home_path=PurePosixPath("/"),
        permissions=[aioftp.Permission("/", readable=True, writable=True)],
    )


def _state(connection: Connection, name: str):
    """What the session holds under ``name`` (``None`` when unset), without making a
    future for it as ``connection.name`` would."""
    future = dict.get(connection, name)
    if future is None or not future.done():
        return None
    return future.result()


def _request(connection: Connection, path: Path | PurePosixPath) -> FileRequest:
    """The request of one command, with the session's phone login if it has one."""
    return FileRequest(
        path=str(PurePosixPath("/") / PurePosixPath(path).relative_to("/")),
        transport="ftp",
        client_address=connection.client_host,
        credentials=_state(connection, "credentials"),
        mac=_state(connection, "device_mac"),
    )


def path_io_for(provisioner: Provisioner, accounts: AccountManager) -> type[pathio.AbstractPathIO]:
    """A PathIO class bound to ``provisioner``: aioftp builds one per connection."""

    class ResolverPathIO(pathio.AbstractPathIO):
        async def _answer(self, path: Path):
            if path == ROOT:
                return None
            _, answer, readable = await readable_answer(
                provisioner, accounts, self.connection, path
            )
            return answer if readable else None

        async def exists(self, path: Path) -> bool:
            return await self.is_dir(path) or await self._answer(path) is not None

        async def is_dir(self, path: Path) -> bool:
            # Folders files are served in (firmware/<version>/, branding/<set>/): clients
            # such as curl CWD into each before RETR. Nothing can be listed.
            return path == ROOT or provisioner.resolver.is_folder(str(path))

        async def is_file(self, path: Path) -> bool:
            return path != ROOT and await self._answer(path) is not None

        async def mkdir(self, path: Path, *, parents: bool = False, exist_ok: bool = False):
            raise PermissionError("read-only tree")

        async def rmdir(self, path: Path) -> None:
            raise PermissionError("read-only tree")

        async def unlink(self, path: Path) -> None:
            raise PermissionError("read-only tree")

        def list(self, path: Path) -> AsyncIterator[Path]:
            raise PermissionError("listing is not allowed")

        async def stat(self, path: Path) -> os.stat_result:
            now = int(time.time())
            if path == ROOT:
                return os.stat_result((stat.S_IFDIR | 0o555, 0, 0, 2, 0, 0, 0, now, now, now))
            answer = await self._answer(path)
            if answer is None:
                raise FileNotFoundError(str(path))
            size = answer.size
            return os.stat_result((stat.S_IFREG | 0o444, 0, 0, 1, 0, 0, size, now, now, now))

        async def _open(self, path: Path, mode: str) -> io.BytesIO:
            if "r" in mode:
                answer = await self._answer(path)
                if answer is None or answer.content is None:
                    # stored files never get here: RETR sends them itself
                    raise FileNotFoundError(str(path))
                provisioner.finished(
                    _request(self.connection, path), answer, "ok", len(answer.content)
                )
                return io.BytesIO(answer.content)
            raise PermissionError("uploads go through ProvisioningFtpServer.stor")

        async def seek(self, file: io.BytesIO, offset: int, whence: int = io.SEEK_SET) -> int:
            return file.seek(offset, whence)

        async def write(self, file: io.BytesIO, data: bytes) -> int:
            return file.write(data)

        async def read(self, file: io.BytesIO, block_size: int) -> bytes:
            return file.read(block_size)

        async def close(self, file: io.BytesIO) -> None:
            file.close()

        async def rename(self, source: Path, destination: Path) -> Path:
            raise PermissionError("read-only tree")

    return ResolverPathIO


async def readable_answer(
    provisioner: Provisioner, accounts: AccountManager, connection: Connection, path
) -> tuple[FileRequest, Answer, bool]:
    """The resolver's answer for ``path`` and whether this login may read it.

    One check for RETR, SIZE and the PathIO: served by the resolver, and within the
    site the login is confined to (if any).
    """
    request = _request(connection, path)
    answer = await provisioner.answer(request)
    readable = (
        answer.status is Status.OK
        and (answer.content is not None or answer.file is not None)
        and await within_site(provisioner, accounts.site_of(connection), answer.mac)
    )
    return request, answer, readable


async def within_site(provisioner: Provisioner, site: str | None, mac: str | None) -> bool:
    """Whether a connection confined to ``site`` may touch device ``mac``'s files."""
    if site is None or mac is None:
        return True
    phone = await asyncio.to_thread(provisioner.resolver.phone, mac)
    return phone is not None and phone.site.name == site


class ProvisioningFtpServer(aioftp.Server):
    """aioftp with plugtone's rules for logins, reads and uploads."""

    def __init__(self, provisioner: Provisioner, accounts: Iterable[FtpAccount], **kwargs) -> None:
        self.accounts = AccountManager(provisioner, accounts)
        super().__init__(
            self.accounts, path_io_factory=path_io_for(provisioner, self.accounts), **kwargs
        )
        self.provisioner = provisioner
        # Phones send SIZE before RETR; aioftp has no SIZE, so plugtone answers it
        # from the resolver.
        self.commands_mapping["size"] = self.size
        self.commands_mapping["noop"] = self.noop
        for command in ("list", "nlst", "mlsd", "mlst"):
            self.commands_mapping[command] = self.refuse_listing
        for command in ("mkd", "rmd", "dele", "rnfr", "rnto"):
            self.commands_mapping[command] = self.refuse_change

    async def refuse_change(self, connection: Connection, rest) -> bool:
        """The tree is the resolver's: nothing in it can be created, renamed or deleted."""
        connection.response("550", "the tree is read-only")
        return True

    async def refuse_listing(self, connection: Connection, rest) -> bool:
        """Phones never list; a listing would show other phones' file names."""
        connection.response("550", "listing is not allowed")
        return True

    # -- logins

    async def user(self, connection: Connection, rest: str) -> bool:  # type: ignore[override]
        """``USER``: a new login ends the session's phone login, if any."""
        for name in ("credentials", "device_mac"):
            connection.pop(name, None)
        connection.login_name = rest
        return await super().user(connection, rest)

    @ConnectionConditions(ConnectionConditions.user_required)
    async def pass_(self, connection: Connection, rest: str) -> bool:  # type: ignore[override]
        """``PASS``, throttled by the sweep guard, one at a time per connection."""
        user = connection.user
        login = _state(connection, "login_name") or user.login
        lock = _state(connection, "login_lock")
        if lock is None:
            lock = connection.login_lock = asyncio.Lock()
        async with lock:
            return await self._log_in(connection, user, login, rest)

    async def _log_in(
        self, connection: Connection, user: aioftp.User, login: str, password: str
    ) -> bool:
        if connection.future.logged.done():
            connection.response("503", "already logged in")
            return True
        guard = self.provisioner.guard
        address = connection.client_host
        account = None if self.accounts.is_gate(login) else login
        delay = guard.login_attempt(address, account)
        if delay is None:
            connection.response("421", "too many failed logins; try again later")
            return False
        admitted, ok, mac = False, None, None
        try:
            if delay:
                await asyncio.sleep(delay)
            admitted = guard.login_admit(address)
            if not admitted:
                connection.response("421", "too many failed logins; try again later")
                return False
            ok, mac = await self.accounts.check(login, user, password)
        finally:
            if guard.login_finished(address, account, ok, admitted):
                log.warning(
                    "FTP logins from %s refused for %g s: too many failed logins",
                    address, guard.settings.block_seconds,
                )  # fmt: skip
        if not ok:
            connection.response("530", "login incorrect")
            return True
        if mac is not None:  # the phone's own login: its requests carry it from now on
            connection.credentials = PasswordCredentials(login, password)
            connection.device_mac = mac
            connection.user = self.accounts.nobody  # confined to no site's account
        connection.logged = True
        connection.response("230", "logged in")
        return True

    # -- reads

    @ConnectionConditions(ConnectionConditions.login_required)
    async def size(self, connection: Connection, rest) -> bool:
        """``SIZE``: what ``RETR`` would send, or 550 as ``RETR`` would answer."""
        real_path, _ = self.get_paths(connection, rest)
        _, answer, readable = await readable_answer(
            self.provisioner, self.accounts, connection, real_path
        )
        if readable:
            connection.response("213", str(answer.size))
        else:
            connection.response("550", "no such file")
        return True

    async def noop(self, connection: Connection, rest) -> bool:
        connection.response("200", "ok")
        return True

    @ConnectionConditions(ConnectionConditions.login_required)
    async def retr(self, connection: Connection, rest) -> bool:  # type: ignore[override]
        real_path, _ = self.get_paths(connection, rest)
        request, answer, readable = await readable_answer(
            self.provisioner, self.accounts, connection, real_path
        )
        if not readable:
            status = "refused" if answer.status is Status.BAD_PATH else "not_found"
            self.provisioner.finished(request, answer, status)
            connection.response("550", "no such file")
            return True
        return await self.send_answer(connection, request, answer)

    @ConnectionConditions(ConnectionConditions.passive_server_started)
    async def send_answer(
        self, connection: Connection, request: FileRequest, answer: Answer
    ) -> bool:
        """RETR of an answer: from ``REST``'s offset, rendered bytes from memory and a
        stored file in chunks read off the disk."""
        size = answer.size
        offset = connection.restart_offset  # the dispatcher clears it at the next command
        if offset > size:
            self.provisioner.finished(request, answer, "unsatisfiable", 0, "REST beyond the end")
            connection.response("554", f"restart offset beyond {size} bytes")
            return True
        provisioner = self.provisioner

        @ConnectionConditions(
            ConnectionConditions.data_connection_made,
            wait=True,
            fail_code="425",
            fail_info="Can't open data connection",
        )
        @worker
        async def send(self: ProvisioningFtpServer, connection: Connection, rest) -> bool:
            stream = connection.data_connection
            del connection.data_connection
            wanted, sent, status, detail = size - offset, 0, "incomplete", None
            fd = None
            if answer.file is not None:
                try:
                    fd = os.open(answer.file.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                except OSError as problem:
                    detail = f"stored file unreadable: {problem.strerror or problem}"
                    log.error("cannot serve %s from %s: %s", request.path, answer.file.path,
                              detail)  # fmt: skip
                    provisioner.finished(request, answer, "error", 0, detail)
                    stream.close()
                    connection.response("451", "file unavailable")
                    return True
            try:
                async with stream:
                    async for chunk in _chunks(answer, fd, offset):
                        await stream.write(chunk)
                        sent += len(chunk)
                if sent < wanted:
                    detail = "stored file shorter than recorded"
            except (OSError, RuntimeError) as problem:  # the phone went away, or stopped
                # reading (timeout); uvloop raises RuntimeError writing to a closed transport
                strerror = getattr(problem, "strerror", None)
                detail = f"connection lost: {strerror or type(problem).__name__}"
            finally:
                if fd is not None:
                    os.close(fd)
                if sent == wanted:
                    status = "ok" if offset == 0 else "partial"
                provisioner.finished(request, answer, status, sent, detail)
            if status == "incomplete":
                connection.response("426", "connection closed; transfer aborted")
            else:
                connection.response("226", "data transfer done")
            return True

        task = asyncio.create_task(send(self, connection, None))
        connection.extra_workers.add(task)
        connection.response("150", "data transfer started")
        return True

    @ConnectionConditions(
        ConnectionConditions.login_required, ConnectionConditions.passive_server_started
    )
    async def stor(self, connection: Connection, rest, mode: str = "wb") -> bool:  # type: ignore[override]
        """Accept only declared upload names; collect up to the cap; store atomically."""
        real_path, _ = self.get_paths(connection, rest)
        request = _request(connection, real_path)
        target, trust = await self.provisioner.authorize_upload(request)
        append = "a" in mode
        site = self.accounts.site_of(connection)
        if target is not None and not await within_site(self.provisioner, site, target.mac):
            target = None
        if target is None or (append and not target.append_allowed):
            self.provisioner.finished(request, None, "refused", detail="upload not allowed")
            connection.response("550", UPLOAD_REFUSED)
            return True

        @ConnectionConditions(
            ConnectionConditions.data_connection_made,
            wait=True,
            fail_code="425",
            fail_info="Can't open data connection",
        )
        @worker
        async def receive(self: ProvisioningFtpServer, connection: Connection, rest) -> bool:
            stream = connection.data_connection
            del connection.data_connection
            content = bytearray()
            received = 0
            async with stream:
                async for chunk in stream.iter_by_block(connection.block_size):
                    received += len(chunk)
                    if received <= target.max_bytes:
                        content += chunk
                    elif received > DRAIN_FACTOR * target.max_bytes:
                        break  # a client that keeps sending is cut off
            if received > target.max_bytes:
                self.provisioner.finished(request, None, "refused", received, "upload too large")
                connection.response("552", f"larger than {target.max_bytes} bytes; not stored")
                return True
            try:
                await self.provisioner.store_upload(request, target, bytes(content), append=append,
                                                    trust=trust)  # fmt: skip
            except UploadTooLarge as error:
                self.provisioner.finished(request, None, "refused", received, "upload too large")
                connection.response("552", str(error))
                return True
            connection.response("226", "stored")
            return True

        task = asyncio.create_task(receive(self, connection, rest))
        connection.extra_workers.add(task)
        connection.response("150", "send the file")
        return True

    async def appe(self, connection: Connection, rest) -> bool:  # type: ignore[override]
        return await self.stor(connection, rest, "ab")


async def _chunks(answer: Answer, fd: int | None, offset: int) -> AsyncIterator[bytes]:
    """The bytes of ``answer`` from ``offset``, :data:`CHUNK` at a time: rendered bytes
    from memory, a stored file from ``fd`` (the caller's to close)."""
    if fd is None:
        view = memoryview(answer.content or b"")
        for start in range(offset, len(view), CHUNK):
            yield bytes(view[start : start + CHUNK])
        return
    # Read in a worker thread into one buffer, copied on the loop: bytes made in worker
    # threads land in glibc's per-thread arenas, which grew with the file size (see
    # plugtone.servers.http._stream).
    wanted = answer.size - offset
    buffer = memoryview(bytearray(min(CHUNK, wanted) or 1))
    sent = 0
    while sent < wanted:
        part = buffer[: min(CHUNK, wanted - sent)]
        read = await asyncio.to_thread(os.preadv, fd, [part], offset + sent)
        if not read:
            return  # shorter than recorded: the caller sees fewer bytes than wanted
        yield bytes(buffer[:read])
        sent += read


class FtpService:
    """A running FTP server; ``close()`` stops it."""

    def __init__(self, server: ProvisioningFtpServer, task: asyncio.Task) -> None:
        self.server = server
        self.task = task

    @property
    def port(self) -> int:
        return self.server.server_port

    async def close(self) -> None:
        await self.server.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def start_ftp_server(
    provisioner: Provisioner,
    host: str,
    port: int,
    *,
    accounts: Iterable[FtpAccount] | None = None,
    passive_ports: Iterable[int] | None = None,
    masquerade_address: str | None = None,
    max_connections: int | None = 1000,
    reuse_port: bool = False,
) -> FtpService:
    """Start serving on ``host:port`` (0 picks a free port) and return when listening.

    ``reuse_port``: the control port is bound with ``SO_REUSEPORT`` (workers share it);
    passive data ports never are, so a data connection reaches the worker that opened
    it (each worker gets its own share of ``passive_ports``)."""
    if accounts is None:
        factory = provisioner.resolver.registry.factory_ftp_accounts()
        accounts = [FtpAccount(user, password) for user, password in factory]
    server = ProvisioningFtpServer(
        provisioner,
        list(accounts),
        maximum_connections=max_connections,
        data_ports=passive_ports,
        ipv4_pasv_forced_response_address=masquerade_address,
        idle_timeout=60,
        socket_timeout=30,
        welcome_message="plugtone",
    )
    await server.start(host, port, **({"reuse_port": True} if reuse_port else {}))
    server._start_server_extra_arguments = {}  # aioftp reuses them for passive listeners
    task = asyncio.create_task(server.serve_forever(), name="ftp")
    return FtpService(server, task)
