"""The phone-facing answer of the redirection service: which vendor's file a path is,
whose MAC it concerns, and what that phone is to be told.

Vendor-neutral: each plug-in recognises its bootstrap files and writes them
(``VendorPlugin.bootstrap_match``/``bootstrap_file``, types in ``vendors/bootstrap.py``);
this module finds the MAC's registration and builds the plug-in's target. An unknown
MAC, a MAC registered but unaffiliated (no server), and any request that names no
MAC are all answered with ``target=None``, so they are indistinguishable.

Firmware first: when the MAC has a firmware version that plugtone holds as a release
of the phone's vendor (and, when the request names the model, for that model), the
target carries it, and ``firmware_due`` says whether the phone reports a version
other than it (or none). Plug-ins whose phones compare versions themselves ignore
``firmware_due``.

Each answered request of a registered phone is counted: its last contact, one
contact row per boot (a new one when the last is older than :data:`BOOT_GAP`) for the
day and week statistics, and when it was given its server.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select

from plugtone.firmware.repository import FileStore, find_release, release_view
from plugtone.inventory.store import Store
from plugtone.macaddr import MacError, normalize_mac
from plugtone.redirect.models import RcsBranding, RcsContact, RcsPhone, RcsServer
from plugtone.vendors import VendorRegistry
from plugtone.vendors.base import VendorPlugin
from plugtone.vendors.bootstrap import BootstrapAnswer, BootstrapRef, BootstrapTarget, ConfigServer

BOOT_GAP = timedelta(minutes=5)
SWEEP_MISSES = 100
"""Unregistered MACs one address may name in :data:`SWEEP_SECONDS` (as plugtone's own
sweep guard counts strangers: a few hundred phones behind one NAT stay under it)."""
SWEEP_SECONDS = 300.0
SWEEP_ADDRESSES = 10_000
KEEP_CONTACTS = timedelta(days=8)
MAX_PATH = 255


@dataclass(frozen=True)
class Served:
    """What to send: ``body`` in memory or the stored file at ``path``; status 404
    when neither."""

    status: int
    media_type: str = "text/plain; charset=utf-8"
    body: bytes = b""
    path: Path | None = None
    size: int = 0
    location: str | None = None
    """Set: a ``302 Found`` to this URL (a plug-in whose phones follow redirects)."""


NOT_FOUND = Served(404, body=b"Not Found\n")


class SweepLimit:
    """Addresses that asked for too many MACs no account registered.

    Without it, anyone could walk the MAC space and learn which MACs are registered and
    where each is sent. A source that names more than :data:`SWEEP_MISSES` unregistered
    MACs in :data:`SWEEP_SECONDS` is answered, until its count leaks back under, as if
    no MAC were registered at all: the same bytes a stranger's MAC gets, so the block
    itself tells nothing. A site's factory phones behind one NAT ask for their own,
    registered MACs, which are no misses. Per process, bounded in addresses kept.
    """

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._misses: OrderedDict[str, deque[float]] = OrderedDict()

    def missed(self, address: str | None) -> None:
        if not address:
            return
        now = self.clock()
        with self._lock:
            times = self._misses.pop(address, None) or deque()
            self._trim(times, now)
            times.append(now)
            self._misses[address] = times
            while len(self._misses) > SWEEP_ADDRESSES:
                self._misses.popitem(last=False)

    def blocked(self, address: str | None) -> bool:
        if not address:
            return False
        with self._lock:
            times = self._misses.get(address)
            if times is None:
                return False
            self._trim(times, self.clock())
            return len(times) > SWEEP_MISSES

    @staticmethod
    def _trim(times: deque[float], now: float) -> None:
        while times and now - times[0] > SWEEP_SECONDS:
            times.popleft()


class Redirector:
    """Answers phone requests for one store (shared by every listener of a process)."""

    def __init__(self, store: Store, registry: VendorRegistry, files: FileStore) -> None:
        self.store = store
        self.registry = registry
        self.files = files
        """Where firmware releases are kept (``<data>/firmware``, as the resolver has it)."""
        self.sweeps = SweepLimit()

    def answer(self, path: str, user_agent: str | None, address: str | None = None) -> Served:
        """The answer to a GET of ``path`` (the part after ``/rcs/``, or after ``/``) from
        ``address``."""
        path = path.lstrip("/")
        if not path or len(path) > MAX_PATH or "\\" in path or ".." in path.split("/"):
            return NOT_FOUND
        found = self._match(path, user_agent)
        if found is None:
            return NOT_FOUND
        plugin, ref = found
        if ref.release_file is not None:
            return self._release_file(plugin, *ref.release_file)
        facts = plugin.identify(user_agent)
        mac = ref.mac or (facts.mac if facts else None)
        model = ref.model or (facts.model if facts else None)
        running = facts.firmware_version if facts else None
        if self.sweeps.blocked(address):  # a MAC sweep: every MAC is unknown to it
            return self._served(plugin.bootstrap_file(ref, None))
        target = self._target(plugin, mac, model, running)
        reply = plugin.bootstrap_file(ref, target)
        if target is not None:
            self._count(target.mac, reply.kind if reply is not None else "none")
        elif mac and not self._count(mac, "none"):  # unaffiliated phones are counted too
            self.sweeps.missed(address)
        return self._served(reply)

    def _match(self, path: str, user_agent: str | None) -> tuple[VendorPlugin, BootstrapRef] | None:
        matches = [
            (plugin, ref)
            for plugin in self.registry.plugins
            if (ref := plugin.bootstrap_match(path)) is not None
        ]
        if len(matches) <= 1:
            return matches[0] if matches else None
        # a name several vendors share: the User-Agent's vendor, else the MAC's owner
        for plugin, ref in matches:
            if plugin.identify(user_agent) is not None:
                return plugin, ref
        for plugin, ref in matches:
            if ref.mac and ref.mac[:6] in plugin.mac_prefixes:
                return plugin, ref
        return matches[0]

    def _target(
        self, plugin: VendorPlugin, mac: str | None, model: str | None, running: str | None
    ) -> BootstrapTarget | None:
        if not mac:
            return None
        try:
            mac = normalize_mac(mac)
        except MacError:
            return None
        with self.store.sessions() as session:
            row = session.execute(
                select(RcsPhone, RcsServer.url, RcsBranding.settings)
                .join(RcsServer, RcsServer.id == RcsPhone.server_id)
                .outerjoin(RcsBranding, RcsBranding.id == RcsPhone.branding_id)
                .where(RcsPhone.mac == mac)
            ).first()
            if row is None:
                return None
            phone, url, branding = row
            release = None
            if phone.firmware:
                stored = find_release(session, plugin.name, phone.firmware)
                if stored is not None and (model is None or model in stored.models):
                    release = release_view(stored)
        due = release is not None and (
            running is None or not plugin.version_matches(running, release.version)
        )
        return BootstrapTarget(
            mac=mac,
            server=ConfigServer.parse(url),
            model=model,
            branding=dict((branding or {}).get(plugin.name, {})),
            firmware=release,
            firmware_due=due,
        )

    def _release_file(self, plugin: VendorPlugin, version: str, name: str) -> Served:
        """A release's file asked for by version: served when a registered MAC is
        assigned that release (the same answer whoever asks), else not found."""
        with self.store.sessions() as session:
            assigned = session.scalar(
                select(RcsPhone.id).where(RcsPhone.firmware == version).limit(1)
            )
            stored = find_release(session, plugin.name, version) if assigned else None
            wanted = release_view(stored).file(name) if stored is not None else None
        if wanted is None:
            return NOT_FOUND
        return self._served(
            BootstrapAnswer(file=wanted, kind="firmware", media_type="application/octet-stream")
        )

    def _count(self, mac: str, kind: str) -> bool:
        """Count a registered phone's request; whether ``mac`` is registered."""
        try:
            mac = normalize_mac(mac)
        except MacError:
            return False
        now = datetime.now(UTC)
        with self.store.sessions() as session:
            phone = session.scalar(select(RcsPhone).where(RcsPhone.mac == mac))
            if phone is None:
                return False
            last = phone.last_contact
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
            if last is None or now - last > BOOT_GAP:
                session.add(
                    RcsContact(
                        account_id=phone.account_id,
                        mac=mac,
                        server_id=phone.server_id,
                        at=now,
                        answer=kind,
                    )
                )
                session.execute(
                    delete(RcsContact).where(
                        RcsContact.account_id == phone.account_id,
                        RcsContact.at < now - KEEP_CONTACTS,
                    )
                )
            phone.last_contact = now
            if kind == "redirect":
                phone.redirected_at = now
            session.commit()
        return True

    def _served(self, reply: BootstrapAnswer | None) -> Served:
        if reply is None:
            return NOT_FOUND
        if reply.location is not None:
            if any(ord(char) < 0x21 or ord(char) == 0x7F for char in reply.location):
                return NOT_FOUND  # never a header split by a URL's control characters
            return Served(302, body=b"Found\n", location=reply.location)
        if reply.file is not None:
            try:
                path = self.files.path(reply.file.sha256)
            except ValueError:
                return NOT_FOUND
            if not path.is_file():
                return NOT_FOUND
            return Served(200, reply.media_type, path=path, size=reply.file.size)
        return Served(200, reply.media_type, body=reply.content or b"")
