"""The resolver: one answer to "this client asks for this path", for every transport.

Transports (TFTP, HTTP, FTP) know no vendor: they build a :class:`FileRequest` and
send back whatever bytes the resolver answers. The resolver runs the identification
pipeline (facts from the path and User-Agent, then the device by MAC, then by last
address), picks the vendor plug-in, renders, and caches the result per inventory
generation, so a boot storm of thousands of phones renders each file once.

Trust (see :mod:`plugtone.provisioning.trust`) is decided here, once per request, in
the identification step: from the credentials or certificate the transport saw, the
client address, and the armed windows. Only a privileged request gets a phone's own
files. A stranger gets, for any per-device name, the same answer whether or not the
MAC belongs to a phone: the plug-in's :meth:`~VendorPlugin.stranger_file` (the file a
factory-fresh phone accepts, the same bytes for every MAC but the MAC itself) or
not-found when the vendor has none; firmware and uploaded files are not-found; shared
files are rendered as for an unknown requester and common ones without any raw
setting the plug-in calls secret. Such answers are marked ``personal``: HTTP turns
them into a Digest challenge, so a phone with its own login can prove who it is.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import posixpath
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from functools import cached_property, lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugtone.firmware.repository import FileStore
from plugtone.firmware.running import config_releases, running_release
from plugtone.inventory.changes import Delta, changes_since
from plugtone.inventory.models import (
    Blob,
    BrandingFile,
    BrandingSet,
    DeviceFirmware,
    DeviceState,
    Phone,
    ProvisioningEvent,
    ProvisioningWindow,
    Site,
)
from plugtone.inventory.store import Store, read_generation
from plugtone.provisioning.caches import ENTRY_OVERHEAD, BoundedCache, text_bytes
from plugtone.provisioning.credentials import DeviceCredentials
from plugtone.provisioning.trust import NetworkRule, NetworkTrust, Trust, Windows, WindowView
from plugtone.provisioning.uploads import UploadStore
from plugtone.provisioning.views import load_model, load_phones
from plugtone.vendors import VendorRegistry
from plugtone.vendors.base import (
    DeviceFacts,
    FileRef,
    FileScope,
    FirmwareDevice,
    FirmwareView,
    PhoneView,
    SiteView,
    UploadRef,
    VendorPlugin,
)

MAX_PATH = 255
MAX_FTP_USER = 64
"""The longest site FTP login the inventory accepts (``FTP_USER_RE``)."""
log = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".cfg": "text/plain; charset=utf-8",
    ".cnf": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "text/xml; charset=utf-8",
    ".bmp": "image/bmp",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}
BRANDING_PREFIX = "branding/"
NOT_AN_ATTEMPT = frozenset({"head", "not_modified", "unsatisfiable", "refused"})
"""Transport outcomes of a firmware answer that sent no image bytes (no attempt used)."""


class Status(Enum):
    OK = "ok"
    NOT_FOUND = "not_found"
    BAD_PATH = "bad_path"


@dataclass(frozen=True)
class FileRequest:
    """What a transport knows about a request, in transport-neutral terms."""

    path: str
    transport: str
    client_address: str | None = None
    user_agent: str | None = None
    mac: str | None = None
    """A MAC the caller already knows (``plugtone render``), used when the path has none."""
    credentials: DeviceCredentials | None = None
    """What the client presented to prove which phone it is (checked by the resolver)."""
    certificate_macs: frozenset[str] = frozenset()
    """MACs named by a client certificate that a configured CA verified (HTTPS)."""
    local: bool = False
    """Asked by plugtone's own admin faces (``render``, ``export-tree``, the API), not by
    a network client: trusted as ``local``."""
    started: float = field(default_factory=time.monotonic, compare=False)
    """``time.monotonic()`` when the transport took the request (for its duration)."""


@dataclass(frozen=True)
class StoredFile:
    """A file answered from disk rather than memory (firmware): sent in pieces, never
    read whole, so serving a 30 MB image costs no more memory than a 3 kB config."""

    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class Answer:
    """The resolver's answer. When ``status`` is OK exactly one of ``content`` (rendered
    bytes) and ``file`` (a stored file, such as firmware) is set."""

    status: Status
    path: str
    content: bytes | None = None
    vendor: str | None = None
    mac: str | None = None
    facts: DeviceFacts | None = None
    detail: str | None = None
    file: StoredFile | None = None
    firmware_version: str | None = None
    """Set on firmware answers: the release version being sent (for device state)."""
    volatile: bool = False
    """Depends on device state, not only the inventory: never memoized."""
    trust: Trust = Trust.STRANGER
    """How far the request was trusted (recorded with its event)."""
    personal: bool = False
    """A stranger's answer for a per-device name: credentials could change it (HTTP
    challenges instead of sending it)."""
    secrets: bool = False
    """The content carries a secret (audited as a disclosure)."""
    known: bool = False
    """``mac`` names an assigned phone. Internal: what a transport does never depends
    on it for a stranger (only whether the event may move the phone's device state)."""
    auth_failed: bool = False
    """The request presented credentials that did not prove anything."""
    wire: dict = field(default_factory=dict, compare=False, repr=False)
    """What a transport made of this answer to send it again (HTTP keeps its encoded
    heads here): it lives and dies with the answer, so a memoized answer sent a
    thousand times is encoded once, and :func:`dataclasses.replace` starts afresh."""

    @property
    def size(self) -> int:
        if self.file is not None:
            return self.file.size
        return len(self.content) if self.content is not None else 0

    @cached_property
    def etag(self) -> str | None:
        # Computed once per answer: a memoized answer is sent thousands of times in a
        # storm, and hashing its bytes was 3-5% of a request's CPU (a frozen dataclass
        # still lets cached_property keep the value in the instance's __dict__).
        if self.file is not None:
            return '"' + self.file.sha256[:32] + '"'
        if self.content is None:
            return None
        return '"' + hashlib.blake2b(self.content, digest_size=12).hexdigest() + '"'

    @cached_property
    def content_type(self) -> str:
        extension = posixpath.splitext(self.path.lower())[1]
        return CONTENT_TYPES.get(extension, "application/octet-stream")


_HOSTILE_CHARACTER = re.compile(r"[\x00-\x1f\x7f\\]")
"""Control characters, DEL and backslash: a path holding one is refused."""


@lru_cache(maxsize=4096)
def clean_path(raw: str) -> str | None:
    """The path a phone asked for, made relative and safe; ``None`` when hostile.

    Kept for the last 4,096 paths asked (at most ~4 MB of the client's strings): a boot
    storm asks the same few names over and over, and this was 6% of a cached answer.

    Phones ask with and without a leading slash and sometimes with sub-paths
    (``US/7960-tones.xml``). Anything that could leave the served tree is refused:
    ``..`` components, backslashes, NUL and other control characters, drive letters.
    """
    if not raw or len(raw) > MAX_PATH * 4:
        return None
    if _HOSTILE_CHARACTER.search(raw) is not None:
        return None
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts) or ":" in parts[0]:
        return None
    cleaned = "/".join(parts)
    return cleaned if len(cleaned) <= MAX_PATH else None


_MISSING = object()

PHONE_BATCH = 250
"""Phones loaded together when one misses the cache (see :meth:`Resolver.phone`)."""
FILES_PER_PHONE = 4
"""Rendered files and memoized answers kept per phone the caches are sized for."""
FILE_BYTES_PER_PHONE = 16 * 1024
"""Bytes of rendered files (and, separately, of memoized answers) budgeted per phone:
measured about 6 KB per Aastra phone all told, with room for a Polycom directory."""
MAX_USER_AGENT = 512
"""Characters of a User-Agent that identification reads. Every vendor's pattern is
met in its first hundred characters; the HTTP listener refuses longer ones (431)
before they get here, this is for any other way in."""
MAX_LOGIN = 64
"""The longest provisioning login the inventory accepts (``phones.http_user``)."""
MATCHES_MAX = 8192
MATCHES_BYTES = 4 * 1024 * 1024
"""Memoized readings of request paths (each a few regex matches to redo)."""
IDENTIFIED_MAX = 1024
IDENTIFIED_BYTES = 512 * 1024
"""User-Agents read: a phone asks for its few files within a second or two, so the
phones booting at that moment find theirs; kept small, as a hostile client can send a
new User-Agent with every request (the hostile-memory test's bound)."""
STALE_GRACE = 0.4
"""Seconds past the generation check's interval that cached answers are still given
while the check runs in the background (:meth:`Resolver._revalidate`): with the
default interval of 0.5 s a change is served within 0.9 s, under the second that
processes sharing a store are allowed."""
MISSES_MAX = 4096
MISSES_BYTES = 2 * 1024 * 1024
"""Memoized not-found answers: their own small cache, so that a sweep of made-up
names (which costs a few regex matches each to answer again) neither grows memory nor
evicts the memoized answers of real phones."""


class Resolver:
    """Maps file requests to rendered bytes; one per process, shared by every transport."""

    def __init__(
        self,
        store: Store,
        registry: VendorRegistry,
        *,
        cache_size: int = 20_000,
        generation_check_interval: float = 0.5,
        uploads: UploadStore | None = None,
        firmware_files: FileStore | None = None,
        trusted_networks: Sequence[NetworkRule] = (),
    ) -> None:
        self.store = store
        self.registry = registry
        self.uploads = uploads
        self.firmware_files = firmware_files
        self.firmware_states: dict[str, FirmwareState] = {}
        self.firmware_changes: dict[str, FirmwareState] = {}
        """States changed since the event recorder last took them (to be written)."""
        self.check_interval = generation_check_interval
        self.generation = -1
        self._checked_at = 0.0
        self._revalidating = False
        """A generation check runs in the background (:meth:`_revalidate`)."""
        # cache_size counts phones; a phone has a few files of its own (a master file,
        # registration, dial plan, directory pages, depending on the vendor). Every map a
        # request can add to is bounded by entries and bytes (see plugtone.provisioning.caches).
        files, file_bytes = cache_size * FILES_PER_PHONE, cache_size * FILE_BYTES_PER_PHONE
        self._files = BoundedCache(files, file_bytes, tagged=True)
        """Rendered files by (vendor, FileRef, MAC or None); FileRefs name only files
        the plug-ins know, so keys are bounded by the inventory and the plug-ins."""
        self._phones = BoundedCache(cache_size, cache_size * ENTRY_OVERHEAD)
        """Assigned phones' views by MAC: bounded by entries; one view's size is bounded
        by the inventory's caps (lines, keys, settings per phone)."""
        self._absent = BoundedCache(max(256, cache_size // 8), cache_size * ENTRY_OVERHEAD)
        """MACs known not to be phones: apart from ``_phones``, so a sweep of made-up
        MACs neither grows memory past this nor evicts a real phone's view."""
        self._accounts = BoundedCache(1024, 1024 * ENTRY_OVERHEAD)
        """Site FTP accounts by login (the login is what a client sent, capped in length)."""
        self._answers = BoundedCache(files, file_bytes, tagged=True)
        """Memoized answers found, by :meth:`_memo_key` (never the raw User-Agent)."""
        self._misses = BoundedCache(MISSES_MAX, MISSES_BYTES, tagged=True)
        """Memoized not-found answers, likewise keyed."""
        self._addresses = BoundedCache(cache_size, cache_size * 2 * ENTRY_OVERHEAD)
        """Client address -> the MAC its last request named."""
        self._sites: dict[int, SiteView] = {}
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._phone_loading = threading.Lock()
        self.networks = NetworkTrust(trusted_networks)
        """Networks the settings trust for every site's phones."""
        self._site_networks: dict[str, NetworkTrust] = {}
        """Per site name, its own trusted networks (rebuilt per generation)."""
        self.windows = Windows()
        """Armed provisioning windows of this generation."""
        self._matches = BoundedCache(MATCHES_MAX, MATCHES_BYTES)
        """Path -> the plug-ins' FileRefs for it: paths are the client's, so bounded."""
        self._identified = BoundedCache(IDENTIFIED_MAX, IDENTIFIED_BYTES)
        """User-Agent -> the facts it gives (or ``None``): depends on the plug-ins only."""
        self._users = BoundedCache(cache_size, cache_size * ENTRY_OVERHEAD, tagged=True)
        """Provisioning login -> the MAC of the phone it belongs to (or None)."""
        self._last_address = BoundedCache(cache_size, cache_size * 2 * ENTRY_OVERHEAD)
        """MAC -> the address of its last privileged request (uploads must come from it)."""
        self._config_releases: dict[str, tuple[FirmwareView, ...]] | None = None
        """By vendor, the stored releases holding release configuration files (read once
        per generation; adding or removing such a release moves it)."""
        self._running_seen = BoundedCache(cache_size, cache_size * 2 * ENTRY_OVERHEAD)
        """MAC -> the version of the last stored release it was known to run."""
        self.render_hits = 0
        """Files answered without rendering: a memoized answer found, or a rendered file
        kept (read by ``plugtone.web.metrics``)."""
        self.render_misses = 0
        """Files a plug-in had to render."""
        self.invalidations = {"phones": 0, "everything": 0}
        """Generation moves that dropped only the changed phones' entries, and those that
        dropped everything (a wide change, or one the store could not describe)."""

    # -- generation tracking

    def refresh(self, force: bool = False) -> int:
        """Re-read the inventory generation (at most every ``check_interval`` s).

        The store is the only channel: whichever process or host made a change, every
        process sees the generation move within ``check_interval`` and asks the store
        what it touched (:func:`~plugtone.inventory.changes.changes_since`).
        """
        now = time.monotonic()
        if not force and now - self._checked_at < self.check_interval:
            return self.generation
        with self._refreshing:
            if not force and time.monotonic() - self._checked_at < self.check_interval:
                return self.generation  # refreshed by the thread this one waited for
            return self._refresh(time.monotonic())

    def _refresh(self, now: float) -> int:
        """:meth:`refresh`'s read, one thread at a time (``_refreshing``): requests that
        find the check due together (every worker thread of a storm, at each interval)
        would each query the store, and two reads racing past a change made the later
        one drop every cache (it could not tell what the other had dropped)."""
        seen = self.generation
        delta = None
        with self.store.sessions() as session:
            generation = read_generation(session)
            if generation != seen:
                delta = changes_since(session, seen, generation)
        changed = False
        with self._lock:
            self._checked_at = now
            if generation != self.generation:
                changed = True
                if self.generation != seen:  # another thread moved it meanwhile
                    delta = None
                self.generation = generation
                self._invalidate(delta)
        if changed:  # arming and disarming windows move the generation too
            windows = self._load_windows()
            with self._lock:
                self.windows = windows
        return generation

    def _invalidate(self, delta: Delta | None) -> None:
        """Drop what a generation move made stale; called under ``_lock``.

        With a ``delta``, only the entries of the phones it names: their views, files
        and memoized answers (each tagged with the MAC it depends on), plus what depends
        on no single phone (tag ``None``: common, model and stranger files, branding
        files, answers naming no phone), the site views of their sites, branding views,
        site accounts and networks: few entries, cheap to rebuild. Without one,
        everything. Puts re-check the generation under the same lock (:meth:`_keep`),
        so nothing read before the move is cached after it.
        """
        self._accounts.clear()
        self._site_networks = {}
        if delta is None:
            # Which stored releases hold configuration files changes only with a release
            # (always a wide change): kept through a narrow one, or every phone without
            # a pin would miss the cache until a worker thread had read them again.
            self._config_releases = None
            self.invalidations["everything"] += 1
            for cache in (self._files, self._phones, self._absent, self._answers,
                          self._misses, self._users):  # fmt: skip
                cache.clear()
            self._sites = {}
            return
        self.invalidations["phones"] += 1
        macs = delta.macs
        tags = (*macs, None)
        sites = set(delta.changed.values())
        # a new dict: a load in flight keeps filling the one it took (and caches nothing)
        self._sites = {
            key: view
            for key, view in self._sites.items()
            if not isinstance(key, tuple) and key not in sites
        }
        self._phones.drop(macs)
        self._absent.drop(macs)
        for cache in (self._files, self._answers, self._misses, self._users):
            cache.drop_tags(tags)

    def _keep(
        self, generation: int, cache: BoundedCache, key: object, value: object,
        weight: int = ENTRY_OVERHEAD, tag: object = None,
    ) -> None:  # fmt: skip
        """Cache ``value`` read at ``generation``, unless the generation moved since:
        checked under ``_lock``, so a refresh cannot drop the entries of a change
        between the check and the put (the entry would then outlive it)."""
        with self._lock:
            if generation == self.generation:
                cache.put(key, value, weight, tag)

    def _load_windows(self) -> Windows:
        """The windows still to close, and when ``once`` windows' phones first got a secret."""
        now = datetime.now(UTC)
        with self.store.sessions() as session:
            rows = session.execute(
                select(ProvisioningWindow, Site.name)
                .outerjoin(Site, Site.id == ProvisioningWindow.site_id)
                .where(ProvisioningWindow.closes_at > now)
            ).all()
            views = [
                WindowView(
                    id=row.id,
                    opens_at=_seconds(row.opens_at) or 0.0,
                    closes_at=_seconds(row.closes_at) or 0.0,
                    site=site,
                    macs=frozenset(row.macs or ()),
                    once=row.once,
                )
                for row, site in rows
            ]
            first_use: dict[str, float] = {}
            once = [view for view in views if view.once]
            if once:
                since = datetime.fromtimestamp(min(view.opens_at for view in once), UTC)
                for mac, first in session.execute(
                    select(ProvisioningEvent.mac, func.min(ProvisioningEvent.time))
                    .where(
                        ProvisioningEvent.secrets.is_(True),
                        ProvisioningEvent.trust == Trust.WINDOW.value,
                        ProvisioningEvent.time >= since,
                        ProvisioningEvent.mac.isnot(None),
                    )
                    .group_by(ProvisioningEvent.mac)
                ):
                    first_use[mac] = _seconds(first) or 0.0
        current = self.windows
        for mac, when in current.first_use.items():  # seen here, maybe not written yet
            first_use[mac] = min(when, first_use.get(mac, when))
        return Windows(views, first_use)

    def reload_windows(self) -> None:
        """Read the armed windows again, with the first secrets other processes (workers,
        hosts) logged under ``once`` windows: each process closes such a window for a
        phone after its first secret from any of them, not only from itself. Merged
        under the lock with what this process sent meanwhile."""
        windows = self._load_windows()
        with self._lock:
            for mac, when in self.windows.first_use.items():
                windows.first_use[mac] = min(when, windows.first_use.get(mac, when))
            self.windows = windows

    def is_fresh(self) -> bool:
        return time.monotonic() - self._checked_at < self.check_interval

    def _revalidate(self) -> bool:
        """Whether :meth:`cached` may answer from memory though the generation check is
        due: it may while that check runs in a thread of its own (started here if none
        is), for at most :data:`STALE_GRACE` seconds past the interval.

        Without this, every request arriving while the check was due missed the cache
        and went to a worker thread, which at 20,000 requests a second is hundreds of
        slow answers every half second, all for a check that almost always finds
        nothing changed. A change is still served within ``check_interval`` plus the
        grace (under one second), and at once where the change feed wakes the process
        (:mod:`plugtone.inventory.change_feed`). With a zero interval (tests, ``render``)
        nothing stale is ever served."""
        interval = self.check_interval
        if interval <= 0 or time.monotonic() - self._checked_at >= interval + STALE_GRACE:
            return False
        if not self._revalidating:
            self._revalidating = True
            threading.Thread(target=self._check_in_background, name="generation-check",
                             daemon=True).start()  # fmt: skip
        return True

    def _check_in_background(self) -> None:
        try:
            self.refresh()
        except Exception:  # the next request that misses tries again, in the open
            log.exception("could not read the inventory generation")
        finally:
            self._revalidating = False

    # -- identification

    def identify(self, request: FileRequest) -> DeviceFacts | None:
        """Facts a User-Agent gives (MAC, model, firmware), from whichever plug-in knows it."""
        user_agent = request.user_agent
        if not user_agent:
            return None
        if len(user_agent) > MAX_USER_AGENT:
            user_agent = user_agent[:MAX_USER_AGENT]
        # A phone sends one User-Agent for every file of its boot and every resync, and
        # reading it is a regex and a MAC and version normalisation per plug-in (20% of
        # a cached request's CPU): read once per User-Agent, in a bounded map of its
        # own (the client chooses the string, so a flood of new ones only evicts).
        found = self._identified.get(user_agent, _MISSING)
        if found is not _MISSING:
            return found
        facts = None
        for plugin in self.registry.plugins:
            facts = plugin.identify(user_agent)
            if facts is not None:
                break
        weight = ENTRY_OVERHEAD + 2 * len(user_agent)
        if facts is not None:
            weight += text_bytes(facts.vendor, facts.mac, facts.model, facts.firmware_version)
        self._identified.put(user_agent, facts, weight)
        return facts

    def remember_address(self, address: str, mac: str) -> None:
        """Tie a client address to a MAC, for later requests that carry no MAC."""
        # Called after every request: an unchanged address costs one dict look-up, and
        # the map evicts the address whose MAC changed least recently.
        if self._addresses.peek(address) != mac:
            self._addresses.put(address, mac, ENTRY_OVERHEAD + len(address) + len(mac))
        if self._last_address.peek(mac) != address:
            self._last_address.put(mac, address, ENTRY_OVERHEAD + len(address) + len(mac))

    def last_address(self, mac: str) -> str | None:
        """Where ``mac``'s last privileged request came from (this process, else the store)."""
        known = self._last_address.peek(mac)
        if known is not None:
            return known
        with self.store.sessions() as session:
            return session.scalar(select(DeviceState.last_address).where(DeviceState.mac == mac))

    def mac_for_address(self, address: str | None) -> str | None:
        return self._addresses.peek(address) if address else None

    def phone(self, mac: str) -> PhoneView | None:
        """The phone's view; on a miss, its site's other uncached phones come along.

        Phones boot by site (a power cut, a switch reboot, a firmware push), so the
        phones next to the one asking are about to ask too.  Loading them in one batch
        of :data:`PHONE_BATCH` costs about what loading one phone alone does, which is
        what makes a cold boot storm affordable.
        """
        cached = self._cached_phone(mac)
        if cached is not _MISSING:
            return cached
        # One load at a time: the phones of a booting site miss together, and each
        # worker thread would otherwise load the same batch; those that waited find
        # their phone loaded by the batch before them.
        with self._phone_loading:
            cached = self._cached_phone(mac)
            if cached is not _MISSING:
                return cached
            generation, sites = self.generation, self._sites
            with self.store.sessions() as session:
                phone = session.scalar(select(Phone).where(Phone.mac == mac))
                if phone is None:
                    views: dict[str, PhoneView | None] = {mac: None}
                else:
                    views = dict(load_phones(session, self._batch(session, phone), sites))
            with self._lock:
                if generation == self.generation:  # not views of an inventory replaced since
                    for key, view in views.items():
                        if view is None:
                            self._absent.put(key, None)
                        else:
                            self._phones.put(key, view)
            return views[mac]

    def _cached_phone(self, mac: str) -> PhoneView | object | None:
        """The cached view, ``None`` when known not to be a phone, else ``_MISSING``."""
        cached = self._phones.get(mac, _MISSING)
        if cached is _MISSING and mac in self._absent:
            return None
        return cached

    def _batch(self, session: Session, phone: Phone) -> list[Phone]:
        """``phone`` and up to PHONE_BATCH - 1 of its site's phones not cached yet."""
        room = min(PHONE_BATCH, self._phones.size) - 1
        neighbours = []
        for other in session.scalars(
            select(Phone.mac).where(Phone.site_id == phone.site_id).order_by(Phone.mac)
        ):
            if len(neighbours) >= room:
                break
            if other != phone.mac and other not in self._phones:
                neighbours.append(other)
        if not neighbours:
            return [phone]
        rows = session.scalars(select(Phone).where(Phone.mac.in_(neighbours))).all()
        return [phone, *rows]

    def is_folder(self, raw: str) -> bool:
        """Whether ``raw`` is a folder files are served in (FTP clients CWD into it)."""
        path = clean_path(raw)
        if path is None:
            return False
        lowered = path.lower() + "/"
        if lowered.startswith(BRANDING_PREFIX) and lowered.count("/") <= 2:
            return True  # branding/ and branding/<set>/
        return any(plugin.match_folder(path) for plugin in self.registry.plugins)

    # -- accounts

    def ftp_account(self, user: str) -> tuple[str, str] | None:
        """``(site, password)`` of a site's own FTP account, cached per generation."""
        self.refresh()
        if len(user) > MAX_FTP_USER:
            return None  # longer than any login the inventory accepts: nothing to cache
        cached = self._accounts.get(user, _MISSING)
        if cached is not _MISSING:
            return cached
        generation = self.generation
        with self.store.sessions() as session:
            row = session.execute(
                select(Site.name, Site.ftp_password).where(Site.ftp_user == user)
            ).first()
        account = (row[0], row[1] or "") if row else None
        weight = ENTRY_OVERHEAD + len(user) + text_bytes(*(account or ()))
        self._keep(generation, self._accounts, user, account, weight)
        return account

    def phone_for_user(self, username: str) -> str | None:
        """The MAC of the phone whose provisioning login is ``username``."""
        if not username or len(username) > MAX_LOGIN:
            return None
        cached = self._users.get(username, _MISSING)
        if cached is not _MISSING:
            return cached
        generation = self.generation
        with self.store.sessions() as session:
            mac = session.scalar(select(Phone.mac).where(Phone.http_user == username))
        self._keep(generation, self._users, username, mac, ENTRY_OVERHEAD + len(username) + 12,
                   tag=mac)  # fmt: skip
        return mac

    def device_login(self, username: str, password: str) -> str | None:
        """The MAC whose own login this is (FTP ``USER``/``PASS``), else ``None``."""
        self.refresh()
        mac = self.phone_for_user(username)
        phone = self.phone(mac) if mac else None
        if phone is None or not phone.http_password or phone.http_user != username:
            return None
        return mac if hmac.compare_digest(phone.http_password.encode(), password.encode()) else None

    # -- trust

    def trust_for(
        self, request: FileRequest, mac: str | None, phone: PhoneView | None
    ) -> tuple[Trust, bool]:
        """``(level, credentials failed)`` for ``request`` acting for ``mac`` (whose view
        is ``phone``, ``None`` when it is not an assigned phone). The one place trust
        is decided; it reads nothing from the store."""
        if request.local:
            return Trust.LOCAL, False
        failed = False
        if mac is not None and mac in request.certificate_macs:
            return Trust.AUTHENTICATED, False
        credentials = request.credentials
        if credentials is not None:
            if (
                phone is not None
                and phone.http_user
                and phone.http_password
                and phone.http_user == credentials.username
                and credentials.check(phone.http_password)
            ):
                return Trust.AUTHENTICATED, False
            failed = True
        address, transport = request.client_address, request.transport
        if self.networks.trusts(address, transport):
            return Trust.TRUSTED_NETWORK, failed
        if phone is not None:
            site = phone.site
            if site.trusted_networks and self._site_trust(site).trusts(address, transport):
                return Trust.TRUSTED_NETWORK, failed
            if self.windows and self.windows.open_for(phone.mac, site.name, time.time()):
                return Trust.WINDOW, failed
        return Trust.STRANGER, failed

    def _site_trust(self, site: SiteView) -> NetworkTrust:
        networks = self._site_networks.get(site.name)
        if networks is None:
            rules = [rule for rule in site.trusted_networks if isinstance(rule, NetworkRule)]
            networks = self._site_networks[site.name] = NetworkTrust(rules, memo_size=1024)
        return networks

    def acts_as(self, request: FileRequest, mac: str, trust: Trust) -> bool:
        """Whether a request at ``trust`` may act as phone ``mac`` (upload its files, read
        them back): proven to be it, or privileged and from the address it last used."""
        if trust in (Trust.LOCAL, Trust.AUTHENTICATED):
            return True
        if trust is Trust.STRANGER or not request.client_address:
            return False
        return self.last_address(mac) == request.client_address

    def disclosed(self, answer: Answer) -> None:
        """A transport sent ``answer``: a secret sent under a window starts that phone's
        ``once`` grace period."""
        if answer.secrets and answer.trust is Trust.WINDOW and answer.mac and self.windows:
            self.windows.disclosed(answer.mac, time.time())

    # -- uploads

    def upload_target(self, request: FileRequest) -> UploadRef | None:
        """Where an upload of ``request.path`` goes, or ``None`` when it is refused.

        Only names a plug-in declares are accepted, only for a phone plugtone knows,
        and only from a request that may act as that phone (:meth:`acts_as`): a
        stranger can neither fill the disk nor replace a phone's settings.
        """
        return self.authorize_upload(request)[0]

    def authorize_upload(self, request: FileRequest) -> tuple[UploadRef | None, Trust]:
        """:meth:`upload_target` and the trust level it was decided at."""
        self.refresh()
        path = clean_path(request.path)
        if path is None:
            return None, Trust.STRANGER
        for plugin in self.registry.plugins:
            ref = plugin.match_upload(path)
            if ref is None:
                continue
            phone = self.phone(ref.mac)
            trust, _ = self.trust_for(request, ref.mac, phone)
            if phone is None or phone.vendor != plugin.name:
                return None, trust
            return (ref if self.acts_as(request, ref.mac, trust) else None), trust
        return None, self.trust_for(request, None, None)[0]

    # -- resolution

    def cached(self, request: FileRequest) -> Answer | None:
        """The answer without touching the store, or ``None`` when that would be needed.

        Async transports call this on the event loop and fall back to
        :meth:`resolve` in a worker thread only on a miss.
        """
        if not self.is_fresh() and not self._revalidate():
            return None
        try:
            return self._resolve(request, allow_io=False)
        except _NeedsStore:
            return None

    def _memo_key(
        self, request: FileRequest, facts: DeviceFacts | None, mac: str | None, trust: Trust,
        failed: bool, phone: PhoneView | None = None,
    ) -> tuple:  # fmt: skip
        # The User-Agent counts only through the facts identification took from it (an
        # attacker chooses the rest of it, and an answer depends on nothing else of it);
        # the address and the credentials only through the MAC they identified, which
        # names the device in the answer (and so in the event log) when the path carries
        # none; so a file common to a fleet is memoized once per phone, not once per
        # address or per User-Agent spelling. The trust level decides which answer it is.
        # The release a phone with no pin is known to run is device state, not inventory:
        # its files follow it, so it is part of the key.
        running = phone.running_release.version if phone and phone.running_release else None
        return (request.path, facts, request.mac, mac, trust, failed, running)

    def _memoize(self, generation: int, key: tuple, answer: Answer) -> None:
        """Keep ``answer`` under ``key``: found ones with the phones', misses apart;
        tagged with the one MAC it names (``None``: none or several, dropped with any
        change)."""
        facts = key[1]
        weight = 2 * ENTRY_OVERHEAD + text_bytes(answer.path, answer.content, *key[:4])
        if facts is not None:
            weight += text_bytes(facts.vendor, facts.mac, facts.model, facts.firmware_version)
        named = {key[2], key[3], answer.mac, facts.mac if facts is not None else None}
        named.discard(None)
        tag = named.pop() if len(named) == 1 else None
        if answer.status is Status.OK and answer.known and self._for_a_phone(answer.mac, facts):
            self._keep(generation, self._answers, key, answer, weight, tag)
        else:
            self._keep(generation, self._misses, key, answer, weight, tag)

    def _for_a_phone(self, mac: str | None, facts: DeviceFacts | None) -> bool:
        """Whether an answer names only assigned phones (or none), so that it may sit
        with the phones' memos: a common file asked for with a made-up MAC in the
        User-Agent goes with the misses, or a sweep of such would evict real phones'."""
        for named in (mac, facts.mac if facts is not None else None):
            if named is not None and self._phones.get(named) is None:
                return False
        return True

    def resolve(self, request: FileRequest) -> Answer:
        """Answer ``request``; may read the store, so async callers run it in a thread."""
        self.refresh()
        answer = self._resolve(request, allow_io=True)
        if answer.status is Status.OK and answer.known and answer.trust is not Trust.STRANGER:
            self._render_follow_ups(answer)
        return answer

    def _render_follow_ups(self, answer: Answer) -> None:
        """Render, while in this worker thread, the files the phone asks for next once
        it has read its own file ``answer`` (:meth:`VendorPlugin.follow_ups`): its next
        requests are then answered from memory on the event loop. In a cold boot storm
        a phone may read up to four files of its own, and each miss went to a thread
        and back through the ASGI protocol: more CPU than rendering the file.
        Only files of that phone's own or common to its vendor are rendered; a failure
        here is left for the request that asks for the file to meet."""
        mac = answer.mac
        phone = self._cached_phone(mac) if mac else _MISSING
        if not isinstance(phone, PhoneView) or phone.vendor != answer.vendor:
            return
        plugin = self.registry.by_name.get(phone.vendor)
        ref = next((ref for p, ref in self._file_matches(answer.path) if p is plugin), None)
        if plugin is None or ref is None or ref.scope is not FileScope.DEVICE or ref.mac != mac:
            return
        try:
            phone = self._with_running_release(phone, answer.facts, True)
            for path in plugin.follow_ups(ref, phone):
                following = next((r for p, r in self._file_matches(path) if p is plugin), None)
                if following is None or following.scope not in _FOLLOWED or (
                    following.scope is FileScope.DEVICE and following.mac != mac
                ):  # fmt: skip
                    continue
                self._render(plugin, following, phone, allow_io=True)
        except Exception:
            log.debug("follow-up files of %s not rendered ahead", mac, exc_info=True)

    def _phone(self, mac: str, allow_io: bool) -> PhoneView | None:
        cached = self._cached_phone(mac)
        if cached is not _MISSING:
            return cached
        if not allow_io:
            raise _NeedsStore
        return self.phone(mac)

    def _render(
        self, plugin: VendorPlugin, ref: FileRef, phone: PhoneView | None, allow_io: bool,
        stranger: bool = False,
    ) -> bytes | None:  # fmt: skip
        personal = not stranger and (ref.scope is FileScope.DEVICE or (
            ref.scope is FileScope.SHARED and phone is not None and phone.vendor == plugin.name
        ))  # fmt: skip
        owner = phone.mac if personal and phone else None
        running = phone.running_release if personal and phone else None
        key = (plugin.name, ref, owner, stranger, running.version if running else None)
        cached = self._files.get(key, _MISSING)
        if cached is not _MISSING:
            self.render_hits += 1
            return cached
        if not allow_io:
            raise _NeedsStore
        self.render_misses += 1
        generation = self.generation
        if stranger and ref.scope is FileScope.DEVICE:
            content = plugin.stranger_file(ref)
        else:
            model = None
            if ref.model is not None:
                with self.store.sessions() as session:
                    model = load_model(session, ref.model, plugin.name)
            if stranger and model is not None:
                model = replace(model, settings={
                    name: value for name, value in model.settings.items()
                    if not plugin.is_secret_setting(name)
                })  # fmt: skip
            content = plugin.render(ref, phone if personal else None, model)
        self._keep(generation, self._files, key, content, ENTRY_OVERHEAD + text_bytes(content),
                   tag=owner)  # fmt: skip
        return content

    def file_matches(self, path: str) -> tuple[tuple[VendorPlugin, FileRef], ...]:
        """Every plug-in's reading of ``path`` (memoized: a boot storm asks the same
        few names over and over, and this is a regex per plug-in; the provisioner reads
        the same answer's path again when it records the outcome)."""
        return self._file_matches(path)

    def _file_matches(self, path: str) -> tuple[tuple[VendorPlugin, FileRef], ...]:
        """See :meth:`file_matches`."""
        found = self._matches.get(path)
        if found is None:
            found = tuple(
                (plugin, ref)
                for plugin in self.registry.plugins
                if (ref := plugin.match(path)) is not None
            )
            self._matches.put(path, found, ENTRY_OVERHEAD + 2 * len(path) + 64 * len(found))
        return found

    def _identified_mac(
        self, request: FileRequest, path: str, facts: DeviceFacts | None,
        matches: tuple[tuple[VendorPlugin, FileRef], ...], allow_io: bool,
    ) -> str | None:  # fmt: skip
        """Which device the request is about: the path's MAC, the caller's, the one an
        upload name carries, the one whose login the credentials name (checked later,
        in :meth:`trust_for`), the User-Agent's, else the one last seen at the address."""
        mac = next((ref.mac for _, ref in matches if ref.mac), None) or request.mac
        if mac is None:
            mac = next(
                (ref.mac for plugin in self.registry.plugins
                 if (ref := plugin.match_upload(path)) is not None), None,
            )  # fmt: skip
        if mac is None and request.credentials is not None:
            mac = self._user_mac(request.credentials.username, allow_io)
        if mac is None and facts is not None:
            mac = facts.mac
        if mac is None:
            mac = self.mac_for_address(request.client_address)
        return mac

    def _user_mac(self, username: str, allow_io: bool) -> str | None:
        """:meth:`phone_for_user`, from the cache only when ``allow_io`` is false."""
        cached = self._users.get(username, _MISSING)
        if cached is not _MISSING:
            return cached
        if not allow_io:
            raise _NeedsStore
        return self.phone_for_user(username)

    def _resolve(self, request: FileRequest, allow_io: bool) -> Answer:
        path = clean_path(request.path)
        if path is None:
            return Answer(Status.BAD_PATH, request.path, detail="refused path",
                          trust=Trust.LOCAL if request.local else Trust.STRANGER)  # fmt: skip
        facts = self.identify(request) if request.user_agent else None
        matches = self._file_matches(path)
        mac = self._identified_mac(request, path, facts, matches, allow_io)
        phone = self._phone(mac, allow_io) if mac else None
        trust, failed = self.trust_for(request, mac, phone)
        if phone is not None and trust is not Trust.STRANGER:  # a stranger gets no phone's file
            phone = self._with_running_release(phone, facts, allow_io)
        key = self._memo_key(request, facts, mac, trust, failed, phone)
        memo = self._answers.get(key)
        if memo is None:
            memo = self._misses.get(key)
        if memo is not None:
            if memo.content is not None:
                self.render_hits += 1
            return memo
        uploaded = self._uploaded(request, path, mac, trust, allow_io)
        if uploaded is not None:
            ref, content = uploaded  # not memoized: uploads change outside generations
            return Answer(Status.OK, path, content, vendor=ref.vendor, mac=ref.mac, facts=facts,
                          trust=trust, known=True)  # fmt: skip
        generation = self.generation
        answer = self._render_answer(request, path, facts, matches, mac, phone, trust, allow_io)
        if failed:
            answer = replace(answer, auth_failed=True)
        if (
            not answer.volatile  # firmware answers depend on device state
            and generation == self.generation
            and not self._is_upload_name(path)  # a later upload must not hide behind a memo
        ):
            self._memoize(generation, key, answer)
        return answer

    def _is_upload_name(self, path: str) -> bool:
        return any(plugin.match_upload(path) is not None for plugin in self.registry.plugins)

    def _render_answer(
        self, request: FileRequest, path: str, facts: DeviceFacts | None,
        matches: tuple[tuple[VendorPlugin, FileRef], ...], mac: str | None,
        phone: PhoneView | None, trust: Trust, allow_io: bool,
    ) -> Answer:  # fmt: skip
        known = phone is not None
        if path.lower().startswith(BRANDING_PREFIX):
            return replace(self._branding_file(path, mac, facts, allow_io), trust=trust)
        if not matches:
            personal = trust is Trust.STRANGER and self._is_upload_name(path)
            return Answer(Status.NOT_FOUND, path, mac=mac, facts=facts, detail="unknown file",
                          trust=trust, personal=personal, known=known)  # fmt: skip
        if trust is Trust.STRANGER:
            return self._stranger_answer(path, facts, matches, mac, known, allow_io)
        firmware = [(plugin, ref) for plugin, ref in matches if ref.scope is FileScope.FIRMWARE]
        if firmware and (phone is None or all(p.name != phone.vendor for p, _ in firmware)):
            matches = tuple(match for match in matches if match not in firmware)
        elif firmware and phone is not None:
            if not allow_io:
                raise _NeedsStore
            plugin, ref = next((p, r) for p, r in firmware if p.name == phone.vendor)
            if not plugin.is_release_config(ref.name):
                answer = self._firmware(request, path, plugin, ref, phone, facts)
                return replace(answer, trust=trust, known=True)
            answer = self._release_config(path, plugin, ref, phone, facts)
            others = tuple(match for match in matches if match not in firmware)
            if answer.status is Status.OK or not others:
                return replace(answer, trust=trust, known=True)
            # a name another vendor serves (its common file) that the phone's release
            # does not hold: answered as it was before releases held configuration files
            matches = others
        if not matches:
            detail = "firmware for an unknown or unassigned device"
            return Answer(Status.NOT_FOUND, path, vendor=firmware[0][0].name, mac=mac,
                          facts=facts, detail=detail, trust=trust)  # fmt: skip
        chosen = self._choose(list(matches), phone)
        if chosen is None:
            vendor = matches[0][0].name
            detail = "unassigned device" if mac else "device file without a device"
            return Answer(Status.NOT_FOUND, path, vendor=vendor, mac=mac, facts=facts,
                          detail=detail, trust=trust)  # fmt: skip
        plugin, ref = chosen
        content = self._render(plugin, ref, phone, allow_io)
        if content is None:
            return Answer(Status.NOT_FOUND, path, vendor=plugin.name, mac=mac, facts=facts,
                          detail="nothing to serve", trust=trust, known=known)  # fmt: skip
        if phone is not None and phone.vendor == plugin.name:
            secrets = plugin.holds_secrets(ref, phone)
        else:
            secrets = self._model_holds_secrets(plugin, ref, allow_io)
        return Answer(Status.OK, path, content, vendor=plugin.name, mac=mac, facts=facts,
                      trust=trust, secrets=secrets, known=known)  # fmt: skip

    def _model_holds_secrets(self, plugin: VendorPlugin, ref: FileRef, allow_io: bool) -> bool:
        """Whether a model file sent without knowing the phone carries a raw setting the
        plug-in calls secret (so the disclosure is audited whoever asked)."""
        if ref.scope is not FileScope.MODEL or ref.model is None:
            return False
        key = ("model-secrets", plugin.name, ref.model)
        cached = self._files.get(key, _MISSING)
        if cached is not _MISSING:
            return bool(cached)
        if not allow_io:
            raise _NeedsStore
        generation = self.generation
        with self.store.sessions() as session:
            model = load_model(session, ref.model, plugin.name)
        found = model is not None and any(plugin.is_secret_setting(name) for name in model.settings)
        self._keep(generation, self._files, key, found)
        return found

    def _stranger_answer(
        self, path: str, facts: DeviceFacts | None,
        matches: tuple[tuple[VendorPlugin, FileRef], ...], mac: str | None, known: bool,
        allow_io: bool,
    ) -> Answer:  # fmt: skip
        """What a stranger gets: nothing here may depend on whether ``mac`` is a phone."""
        personal = (FileScope.DEVICE, FileScope.FIRMWARE)
        shared = [(p, r) for p, r in matches if r.scope not in personal]
        if shared:
            plugin, ref = shared[0]
            content = self._render(plugin, ref, None, allow_io, stranger=True)
            if content is None:
                return Answer(Status.NOT_FOUND, path, vendor=plugin.name, mac=mac, facts=facts,
                              detail="nothing to serve", known=known)  # fmt: skip
            return Answer(Status.OK, path, content, vendor=plugin.name, mac=mac, facts=facts,
                          known=known)  # fmt: skip
        plugin, ref = self._stranger_choice(matches, mac, facts)
        content = None
        if ref.scope is FileScope.DEVICE:
            content = self._render(plugin, ref, None, allow_io, stranger=True)
        if content is None:
            return Answer(Status.NOT_FOUND, path, vendor=plugin.name, mac=mac, facts=facts,
                          detail="stranger", personal=True, known=known)  # fmt: skip
        return Answer(Status.OK, path, content, vendor=plugin.name, mac=mac, facts=facts,
                      detail="stranger", personal=True, known=known)  # fmt: skip

    def _stranger_choice(
        self, matches: tuple[tuple[VendorPlugin, FileRef], ...], mac: str | None,
        facts: DeviceFacts | None,
    ) -> tuple[VendorPlugin, FileRef]:  # fmt: skip
        """The vendor whose answer a stranger gets for a name several vendors read:
        the one owning the MAC's prefix, else the User-Agent's, else the first."""
        if mac:
            for plugin, ref in matches:
                if mac[:6] in plugin.mac_prefixes:
                    return plugin, ref
        if facts is not None:
            for plugin, ref in matches:
                if plugin.name == facts.vendor:
                    return plugin, ref
        return matches[0]

    # -- branding

    def _branding_file(
        self, path: str, mac: str | None, facts: DeviceFacts | None, allow_io: bool
    ) -> Answer:
        """``branding/<set>/<file>``: not secret, so served to anyone who names it."""
        parts = path.split("/")
        if len(parts) != 3:
            return Answer(Status.NOT_FOUND, path, mac=mac, facts=facts, detail="unknown file")
        key = ("branding-file", parts[1].lower(), parts[2].lower())
        content = self._files.get(key, _MISSING)
        if content is _MISSING:
            if not allow_io:
                raise _NeedsStore
            generation = self.generation
            with self.store.sessions() as session:
                content = session.scalar(
                    select(Blob.content)
                    .join(BrandingFile, BrandingFile.sha256 == Blob.sha256)
                    .join(BrandingSet, BrandingSet.id == BrandingFile.branding_id)
                    .where(
                        func.lower(BrandingSet.name) == key[1],
                        func.lower(BrandingFile.name) == key[2],
                    )
                )
            self._keep(generation, self._files, key, content, ENTRY_OVERHEAD + text_bytes(content))
        if content is None:
            return Answer(Status.NOT_FOUND, path, mac=mac, facts=facts, detail="unknown file")
        return Answer(Status.OK, path, content, mac=mac, facts=facts)

    # -- firmware

    def _firmware(
        self,
        request: FileRequest,
        path: str,
        plugin: VendorPlugin,
        ref: FileRef,
        phone: PhoneView,
        facts: DeviceFacts | None,
    ) -> Answer:
        """Offer a firmware file, or not; the plug-in decides with what is known.

        Never cached: the answer depends on what the device runs and was sent.
        """

        def refuse(detail: str) -> Answer:
            return Answer(Status.NOT_FOUND, path, vendor=plugin.name, mac=phone.mac, facts=facts,
                          detail=detail, volatile=True)  # fmt: skip

        release = phone.firmware
        if release is None:
            return refuse("no firmware pinned")
        if phone.model not in release.models:
            return refuse(f"release {release.version} is not for {phone.model}")
        state = self.firmware_state(phone.mac)
        with self._lock:
            if state.target != release.version:
                state.target, state.attempts, state.delivered = release.version, 0, None
            if facts is not None and facts.firmware_version and facts.mac in (None, phone.mac):
                state.running, state.running_at = facts.firmware_version, time.time()
            fresh = state.running is not None and state.running_at > (state.delivered_at or 0)
            device = FirmwareDevice(
                running_version=state.running if fresh else None,
                delivered=state.delivered == release.version,
                attempts=state.attempts,
            )
        offered = plugin.offer_firmware(ref, phone, device)
        if offered is None or offered not in release.files:
            self._firmware_result(state, "not offered")
            if device.running_version and plugin.version_matches(
                device.running_version, release.version
            ):
                return refuse(f"runs {release.version} already")
            return refuse("firmware not offered")
        if self.firmware_files is None:
            return refuse("no firmware repository")
        stored = self.firmware_files.path(offered.sha256)
        if not stored.is_file():
            log.error("firmware file %s (%s) is missing from %s", offered.name, offered.sha256,
                      self.firmware_files.root)  # fmt: skip
            return refuse("firmware file missing on this node")
        with self._lock:
            state.offered_at = time.time()
        self._firmware_result(state, "offered")
        return Answer(
            Status.OK, path, vendor=plugin.name, mac=phone.mac, facts=facts,
            file=StoredFile(stored, offered.size, offered.sha256),
            firmware_version=release.version, volatile=True,
        )  # fmt: skip

    def _with_running_release(
        self, phone: PhoneView, facts: DeviceFacts | None, allow_io: bool
    ) -> PhoneView:
        """``phone``, with the stored release it is known to run when it has no pin and
        that release holds configuration files its vendor ships (see
        :mod:`plugtone.firmware.running`). Costs nothing more when no stored release of
        the phone's vendor holds any: the usual case, and every pinned phone."""
        if phone.firmware is not None:
            return phone
        if self._config_releases is None:
            if not allow_io:
                raise _NeedsStore
            generation = self.generation
            with self.store.sessions() as session:
                loaded = config_releases(session, self.registry)
            if generation != self.generation:  # read for an inventory already replaced
                return phone
            self._config_releases = loaded
        releases = self._config_releases.get(phone.vendor, ())
        plugin = self.registry.by_name.get(phone.vendor)
        if plugin is None or not any(phone.model in release.models for release in releases):
            return phone
        reported = None
        if facts is not None and facts.vendor == phone.vendor and facts.mac in (None, phone.mac):
            reported = facts.firmware_version
        state = self.firmware_states.get(phone.mac)
        if state is None:
            if not allow_io:
                raise _NeedsStore
            state = self.firmware_state(phone.mac)
        # A version naming no stored release is no evidence (some boot code reports its own
        # version): the last release the phone was known to run stands, so a file its
        # master file listed is still served to the requests that follow in the same boot.
        seen = self._running_seen.peek(phone.mac)
        evidence = (reported, state.running, seen)
        release = running_release(plugin, releases, phone.model, evidence)
        if release is None:
            return phone
        if seen != release.version:
            self._running_seen.put(phone.mac, release.version)
        return replace(phone, running_release=release)

    def _release_config(
        self, path: str, plugin: VendorPlugin, ref: FileRef, phone: PhoneView,
        facts: DeviceFacts | None,
    ) -> Answer:  # fmt: skip
        """A configuration file its vendor ships with a release (a stock ``sip.cfg``):
        from the release the phone is pinned to, else the one it is known to run.

        Not secret, but for assigned phones only (a stranger's and an unknown phone's
        requests never get here), so a phone is never handed another release's files.
        Sending it delivers nothing, so no firmware state moves; not memoized, as the
        answer follows the device (and a file missing on this node may come back).
        """

        def refuse(detail: str) -> Answer:
            return Answer(Status.NOT_FOUND, path, vendor=plugin.name, mac=phone.mac, facts=facts,
                          detail=detail, volatile=True)  # fmt: skip

        release = phone.firmware or phone.running_release
        if release is None:
            return refuse("no release pinned or known to be running")
        if phone.model not in release.models:
            return refuse(f"release {release.version} is not for {phone.model}")
        if ref.version is not None and ref.version != release.version:
            return refuse(f"not the phone's release ({release.version})")
        offered = release.file(ref.name)
        if offered is None:
            return refuse(f"release {release.version} has no {ref.name}")
        if self.firmware_files is None:
            return refuse("no firmware repository")
        stored = self.firmware_files.path(offered.sha256)
        if not stored.is_file():
            log.error("release file %s (%s) is missing from %s", offered.name, offered.sha256,
                      self.firmware_files.root)  # fmt: skip
            return refuse("release file missing on this node")
        sent = StoredFile(stored, offered.size, offered.sha256)
        return Answer(Status.OK, path, vendor=plugin.name, mac=phone.mac, facts=facts, file=sent,
                      volatile=True)  # fmt: skip

    def firmware_state(self, mac: str) -> FirmwareState:
        """This process's view of ``mac``'s firmware, read from the store once."""
        state = self.firmware_states.get(mac)
        if state is not None:
            return state
        state = FirmwareState(mac)
        with self.store.sessions() as session:
            row = session.get(DeviceFirmware, mac)
            seen = session.execute(
                select(DeviceState.firmware_version, DeviceState.last_seen).where(
                    DeviceState.mac == mac
                )
            ).first()
        if row is not None:
            state.target, state.running = row.target_version, row.running_version
            state.running_at = _seconds(row.running_seen_at) or 0.0
            state.attempts = row.attempts
            state.offered_at = _seconds(row.offered_at)
            state.delivered, state.delivered_at = row.delivered_version, _seconds(row.delivered_at)
            state.last_result, state.last_result_at = row.last_result, _seconds(row.last_result_at)
        # device_states keeps the last version ever reported, but its last_seen moves
        # with every request: only trust it for a device with no firmware history yet.
        if row is None and seen is not None and seen[0]:
            state.running, state.running_at = seen[0], _seconds(seen[1]) or 0.0
        self.firmware_states[mac] = state
        return state

    def _firmware_result(self, state: FirmwareState, result: str) -> None:
        state.last_result, state.last_result_at = result, time.time()
        self.firmware_changes[state.mac] = state

    def firmware_sent(self, answer: Answer, complete: bool, status: str) -> None:
        """A transport finished sending a firmware answer (wholly or not)."""
        if answer.mac is None or answer.firmware_version is None:
            return
        state = self.firmware_states.get(answer.mac)
        if state is None:
            return
        if status in NOT_AN_ATTEMPT:
            return
        with self._lock:
            state.attempts += 1  # counted once a body started to go out
        plugin = self.registry.by_name.get(answer.vendor or "")
        decisive = plugin is None or plugin.completes_delivery(posixpath.basename(answer.path))
        if complete and not decisive:
            self._firmware_result(state, f"sent {posixpath.basename(answer.path)}")
        elif complete:
            with self._lock:
                state.delivered, state.delivered_at = answer.firmware_version, time.time()
            self._firmware_result(state, "delivered")
        else:
            self._firmware_result(state, status)

    def note_running(self, mac: str, version: str) -> None:
        """A request reported the version ``mac`` runs (User-Agent; TR-069 later)."""
        state = self.firmware_states.get(mac)
        if state is None:
            return  # read from device_states when the device next asks for firmware
        with self._lock:
            state.running, state.running_at = version, time.time()
        self.firmware_changes[mac] = state

    def take_firmware_changes(self) -> list[dict]:
        """Rows for ``device_firmware`` changed since the last call."""
        changes, self.firmware_changes = self.firmware_changes, {}
        return [state.row() for state in changes.values()]

    def _uploaded(
        self, request: FileRequest, path: str, mac: str | None, trust: Trust, allow_io: bool
    ) -> tuple[UploadRef, bytes] | None:
        """A file the phone uploaded earlier under a declared name, served back to it.

        Phones fetch what they uploaded (Polycom reads its ``<mac>-phone.cfg`` local
        overrides and ``<mac>-directory.xml`` contacts at boot); their copy wins over
        anything rendered, or the user's own settings would be lost at each reboot.
        Only to a request that may act as that phone (:meth:`acts_as`): anyone else
        gets what the name would get had nothing been uploaded.
        Not cached: uploads change outside the inventory generation, so whether one is
        there is looked up on every request (from the event loop too: one ``stat``).
        """
        if self.uploads is None:
            return None
        for plugin in self.registry.plugins:
            ref = plugin.match_upload(path)
            if ref is None:
                continue
            if trust is Trust.STRANGER or ref.mac != mac:
                return None
            if not allow_io:
                # Whether anything was uploaded under the name is one stat of a local
                # file, answered on the event loop as TFTP reads a stored file's blocks;
                # only reading one that is there goes to a thread. Most phones never
                # upload what they ask for (their contacts, their overrides), and
                # each such request went to a thread and back to learn it.
                try:
                    if not self.uploads.path(ref).is_file():
                        return None
                except (OSError, ValueError):
                    return None
                raise _NeedsStore
            phone = self._phone(ref.mac, allow_io)
            if phone is None or phone.vendor != plugin.name:
                return None
            if not self.acts_as(request, ref.mac, trust):
                return None
            try:
                return ref, self.uploads.path(ref).read_bytes()
            except (OSError, ValueError):
                return None
        return None

    @staticmethod
    def _choose(
        matches: list[tuple[VendorPlugin, FileRef]], phone: PhoneView | None
    ) -> tuple[VendorPlugin, FileRef] | None:
        """The phone's own vendor first; device files only ever for an assigned phone."""
        if phone is not None:
            for plugin, ref in matches:
                if plugin.name == phone.vendor:
                    return plugin, ref
        for plugin, ref in matches:
            if ref.scope is not FileScope.DEVICE:
                return plugin, ref
        return None


@dataclass
class FirmwareState:
    """What this process knows of one device's firmware (mirrors ``device_firmware``).

    Wall-clock times (``time.time()``) so that "seen running X after the image was
    delivered" compares across restarts with the stored row.
    """

    mac: str
    target: str | None = None
    running: str | None = None
    running_at: float = 0.0
    attempts: int = 0
    offered_at: float | None = None
    delivered: str | None = None
    delivered_at: float | None = None
    last_result: str | None = None
    last_result_at: float | None = None

    def row(self) -> dict:
        def stamp(value: float | None):
            return datetime.fromtimestamp(value, UTC) if value else None

        return {
            "mac": self.mac,
            "target_version": self.target,
            "running_version": self.running,
            "running_seen_at": stamp(self.running_at),
            "attempts": self.attempts,
            "offered_at": stamp(self.offered_at),
            "delivered_version": self.delivered,
            "delivered_at": stamp(self.delivered_at),
            "last_result": self.last_result,
            "last_result_at": stamp(self.last_result_at),
        }


def _seconds(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


_FOLLOWED = frozenset((FileScope.DEVICE, FileScope.COMMON, FileScope.MODEL))
"""The scopes of a phone's follow-up files rendered ahead (never firmware, whose answer
follows device state, nor a shared file, which follows who asks)."""


class _NeedsStore(Exception):
    """Raised inside a no-I/O resolution when the answer is not cached."""
