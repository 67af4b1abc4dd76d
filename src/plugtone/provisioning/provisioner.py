"""The one object every phone-facing transport talks to.

It couples the resolver (what to answer) with the event recorder (what happened),
so a transport's whole job is: build a :class:`FileRequest`, await
:meth:`Provisioner.answer`, send the bytes, call :meth:`Provisioner.finished`.

It also owns the sweep guard (:mod:`plugtone.provisioning.sweep_guard`): every answer
is noted with it, and :meth:`Provisioner.screen` applies its verdict (a wait, or a
blocked stranger's answer) and records its alerts. Transports with a synchronous fast
path (TFTP) call :meth:`Provisioner.screen` themselves on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from plugtone.firmware.repository import FileStore
from plugtone.provisioning.caches import ENTRY_OVERHEAD, BoundedCache
from plugtone.provisioning.events import Event, EventRecorder
from plugtone.provisioning.request_log import RequestLog, request_fields
from plugtone.provisioning.request_stats import RequestStats
from plugtone.provisioning.resolver import Answer, FileRequest, Resolver, Status
from plugtone.provisioning.sweep_guard import Alert, SweepGuard
from plugtone.provisioning.trust import NetworkRule, Trust
from plugtone.provisioning.uploads import UploadStore
from plugtone.vendors.base import FileScope, UploadRef

log = logging.getLogger(__name__)

SENT = frozenset({"ok", "partial", "incomplete"})
"""Transport outcomes in which (some of) the answer's bytes went out."""

BLOCKED = "blocked"
"""The ``detail`` of the answer a blocked stranger gets (see :meth:`Provisioner.screen`)."""
_STRANGER = Trust.STRANGER  # a module constant: an enum member's look-up costs more
FETCHED = frozenset({"ok", "not_modified"})
"""Outcomes after which the device holds the file's current content."""
OWN_FILES_MAX = 4096
"""(path, MAC) pairs whose reading is kept: a few files of each phone booting at once
(small: a hostile client chooses paths and MACs)."""
BROKEN = frozenset({"error", "aborted", "timed_out", "incomplete"})
"""Transfer outcomes that are failures whatever the file (a 404 is one only for the
device's own file: phones ask for optional names, and for firmware at every boot)."""


class Provisioner:
    def __init__(
        self, resolver: Resolver, recorder: EventRecorder, uploads: UploadStore,
        guard: SweepGuard | None = None,
    ) -> None:  # fmt: skip
        self.resolver = resolver
        self.recorder = recorder
        self.uploads = uploads
        self.guard = guard if guard is not None else SweepGuard()
        """Sweep defence and login throttling; its ``counters`` are the totals."""
        self._challenges = self.guard.challenges.items
        """The guard's challenges awaiting proof (the same dict for the guard's life)."""
        self.stats = RequestStats()
        """Requests by transport, vendor and status, and transfer times (``/metrics``)."""
        self.request_log: RequestLog | None = None
        """A line per request (``plugtone serve --log-requests``); ``None`` logs none."""
        self._own_files = BoundedCache(OWN_FILES_MAX, OWN_FILES_MAX * (ENTRY_OVERHEAD + 64))
        """(path, MAC) -> whether the path is that device's own file (:meth:`_own_file`)."""

    @classmethod
    def for_store(
        cls, store, registry, data_dir: Path, *, cache_phones: int = 20_000,
        trusted_networks: Sequence[NetworkRule] = (), guard: SweepGuard | None = None,
    ) -> Provisioner:  # fmt: skip
        uploads = UploadStore(data_dir / "uploads")
        resolver = Resolver(
            store, registry, cache_size=cache_phones, uploads=uploads,
            firmware_files=FileStore(data_dir / "firmware"), trusted_networks=trusted_networks,
        )  # fmt: skip
        resolver.refresh(force=True)
        return cls(resolver, EventRecorder(store), uploads, guard)

    async def upload_target(self, request: FileRequest) -> UploadRef | None:
        """Whether ``request`` may upload, and where to; ``None`` means refuse."""
        return await asyncio.to_thread(self.resolver.upload_target, request)

    async def authorize_upload(self, request: FileRequest) -> tuple[UploadRef | None, Trust]:
        """:meth:`upload_target` and the trust level it was decided at (HTTP challenges
        a stranger, and refuses a privileged request like an undeclared name)."""
        return await asyncio.to_thread(self.resolver.authorize_upload, request)

    async def store_upload(
        self, request: FileRequest, ref: UploadRef, content: bytes, *, append: bool = False,
        trust: Trust | None = None,
    ) -> int:  # fmt: skip
        """Save an accepted upload (raises ``UploadTooLarge``) and log it, at ``trust``:
        the level :meth:`authorize_upload` accepted it at (worked out again if not
        given)."""
        size = await asyncio.to_thread(self.uploads.save, ref, content, append=append)
        if trust is None:
            _, trust = await asyncio.to_thread(self.resolver.authorize_upload, request)
        self.recorder.record(
            Event(
                transport=request.transport,
                path=request.path,
                status="uploaded",
                client_address=request.client_address,
                mac=ref.mac,
                vendor=ref.vendor,
                bytes=len(content),
                user_agent=request.user_agent,
                trust=trust.value,
            )
        )
        return size

    async def answer(self, request: FileRequest, *, missed: bool = False) -> Answer:
        """Resolve on the event loop when cached, else in a worker thread; then
        :meth:`screen` it, waiting as long as the sweep guard says.

        ``missed``: the caller's fast path has just tried the cache for this request
        and found nothing, so it goes straight to the thread (in a cold boot storm
        nearly every request is a miss, and trying again cost a resolution each).
        """
        answer = None if missed else self.resolver.cached(request)
        if answer is None:
            answer = await asyncio.to_thread(self.resolver.resolve, request)
        answer, delay = self.screen(request, answer)
        if delay:
            await asyncio.sleep(delay)
        return answer

    def screen(self, request: FileRequest, answer: Answer) -> tuple[Answer, float]:
        """Note ``answer`` with the sweep guard: the answer to send, and the seconds to
        wait before sending it. Synchronous, for transports' fast paths; call it once
        per request (:meth:`answer` does).

        A blocked stranger gets what a stranger gets for a name that is not there,
        marked ``personal`` (HTTP challenges it, so a phone with its own login behind a
        blocked NAT still gets in) with detail :data:`BLOCKED` (TFTP stays silent).
        """
        if (
            answer.trust is not _STRANGER
            and (answer.known or answer.mac is None)
            and not answer.auth_failed
            and not self._challenges
        ):
            return answer, 0.0  # the warm path of a trusted phone: nothing to note
        stranger = answer.trust is _STRANGER
        verdict = self.guard.check(
            request.client_address,
            answer.mac,
            personal=stranger and answer.personal,
            unknown_mac=answer.mac is not None and not answer.known,
            auth_failed=answer.auth_failed,
            privileged=not stranger,
        )
        if verdict.alert is not None:
            self._alert(request, answer, verdict.alert)
        if verdict.blocked:
            blocked = replace(answer, status=Status.NOT_FOUND, content=None, file=None,
                              personal=True, detail=BLOCKED)  # fmt: skip
            return blocked, 0.0
        return answer, verdict.delay

    def _alert(self, request: FileRequest, answer: Answer, alert: Alert) -> None:
        """One warning in the log and one ``sweep`` event per episode of a source."""
        log.warning("%s", alert.detail)
        self.recorder.record(
            Event(
                transport=request.transport,
                path=request.path,
                status="sweep",
                client_address=None if alert.kind == "prefix" else alert.source,
                user_agent=request.user_agent,
                detail=alert.detail,
                trust=answer.trust.value,
                update_device=False,
            )
        )

    def finished(
        self,
        request: FileRequest,
        answer: Answer | None,
        status: str,
        sent: int = 0,
        detail: str | None = None,
    ) -> None:
        """Record the outcome of one request (``status`` as the transport saw it).

        For a firmware file, transports call this once the body is sent: ``"ok"``
        with every byte sent marks the release delivered to the device.

        What the event takes from the answer alone (its device, vendor, trust, whether
        it is the device's own file) is worked out once per answer and outcome and kept
        with the answer (:class:`_Outcome`): a memoized answer is recorded thousands of
        times, and reading those facts again was a third of a cached request's CPU.
        """
        if answer is None or answer.firmware_version is not None:
            self._finished(request, answer, status, sent, detail)
            return
        if detail is None:
            key = ("event", status)
            outcome = answer.wire.get(key)
            if outcome is None:
                outcome = answer.wire[key] = self._outcome(answer, status, None)
        else:  # a detail may be the client's words (a TFTP error): never kept
            outcome = self._outcome(answer, status, detail)
        mac = outcome.mac
        resolver = self.resolver
        address = request.client_address
        if outcome.remember and address:
            resolver.remember_address(address, mac)
        if outcome.running is not None:
            resolver.note_running(mac, outcome.running)
        if outcome.secrets:
            resolver.disclosed(answer)
        if resolver.firmware_changes:
            for row in resolver.take_firmware_changes():
                self.recorder.record_firmware(row)
        seconds = time.monotonic() - request.started
        self.stats.note(request.transport, outcome.vendor, status, seconds)
        if self.request_log is not None:
            self._log_request(request, mac, outcome.vendor, status, sent, seconds, answer.trust)
        self.recorder.record(
            Event(request.transport, request.path, status, address, mac, outcome.vendor, sent,
                  request.user_agent, outcome.detail, outcome.model, outcome.firmware, None,
                  outcome.trust, outcome.secrets, outcome.update_device,
                  resolver.generation if outcome.fetched_own else None, outcome.error)
        )  # fmt: skip

    def _outcome(self, answer: Answer, status: str, detail: str | None) -> _Outcome:
        """What :meth:`finished` records of ``answer`` ending in ``status``, whoever asked."""
        mac = answer.mac
        facts = answer.facts
        trust = answer.trust
        privileged = trust is not None and trust.privileged
        running = None
        if privileged and mac and facts is not None and facts.firmware_version and facts.mac in (
            None, mac,
        ):  # fmt: skip
            running = facts.firmware_version
        own = bool(mac and self._own_file(answer.path, mac))
        return _Outcome(
            mac=mac,
            vendor=answer.vendor or (facts.vendor if facts else None),
            remember=bool(mac and privileged),
            running=running,
            detail=detail or answer.detail,
            model=facts.model if facts else None,
            firmware=facts.firmware_version if facts else None,
            trust=trust.value if trust is not None else None,
            secrets=bool(answer.secrets and status in SENT),
            update_device=privileged or _names_itself(answer),
            fetched_own=own and status in FETCHED,
            error=status in BROKEN or (own and status == "not_found"),
        )

    def _finished(
        self, request: FileRequest, answer: Answer | None, status: str, sent: int,
        detail: str | None,
    ) -> None:  # fmt: skip
        """:meth:`finished` for no answer or a firmware answer (device state moves)."""
        mac = answer.mac if answer else None
        facts = answer.facts if answer else None
        trust = answer.trust if answer else None
        privileged = trust is not None and trust.privileged
        if mac and request.client_address and privileged:
            self.resolver.remember_address(request.client_address, mac)
        if privileged and mac and facts is not None and facts.firmware_version and facts.mac in (
            None, mac,
        ):  # fmt: skip
            self.resolver.note_running(mac, facts.firmware_version)
        if answer is not None and answer.secrets and status in SENT:
            self.resolver.disclosed(answer)
        if answer is not None and answer.firmware_version is not None:
            complete = status == "ok" and sent >= answer.size
            self.resolver.firmware_sent(answer, complete, status)
        if self.resolver.firmware_changes:
            for row in self.resolver.take_firmware_changes():
                self.recorder.record_firmware(row)
        vendor = (answer.vendor if answer else None) or (facts.vendor if facts else None)
        seconds = time.monotonic() - request.started
        self.stats.note(request.transport, vendor, status, seconds)
        if self.request_log is not None:
            self._log_request(request, mac, vendor, status, sent, seconds, trust)
        own = bool(mac and answer and self._own_file(answer.path, mac))
        self.recorder.record(
            Event(
                transport=request.transport,
                path=request.path,
                status=status,
                client_address=request.client_address,
                mac=mac,
                vendor=vendor,
                bytes=sent,
                user_agent=request.user_agent,
                detail=detail or (answer.detail if answer else None),
                model=facts.model if facts else None,
                firmware_version=facts.firmware_version if facts else None,
                trust=trust.value if trust is not None else None,
                secrets=bool(answer and answer.secrets and status in SENT),
                update_device=privileged or _names_itself(answer),
                generation=self.resolver.generation if own and status in FETCHED else None,
                error=status in BROKEN or (own and status == "not_found"),
            )
        )

    def _own_file(self, path: str, mac: str) -> bool:
        """Whether ``path`` (cleaned, as answers hold it) is one of ``mac``'s own files, as
        some plug-in reads it. Read once per (path, MAC): it is a regex per plug-in, on
        every request (8% of a cached request's CPU), and depends on the plug-ins only."""
        key = (path, mac)
        own = self._own_files.peek(key)
        if own is None:
            own = any(ref.scope is FileScope.DEVICE and ref.mac == mac
                      for _, ref in self.resolver.file_matches(path))  # fmt: skip
            self._own_files.put(key, own, ENTRY_OVERHEAD + len(path) + len(mac))
        return own

    def _log_request(
        self, request: FileRequest, mac: str | None, vendor: str | None, status: str,
        sent: int, seconds: float, trust: Trust | None,
    ) -> None:  # fmt: skip
        """One request line: the login name the client gave, never what proves it."""
        assert self.request_log is not None
        credentials = request.credentials
        user = getattr(credentials, "username", None) if credentials is not None else None
        fields = request_fields(
            transport=request.transport, client=request.client_address, path=request.path,
            mac=mac, vendor=vendor, status=status, sent=sent, seconds=seconds,
            trust=trust.value if trust is not None else None,
            user=user if isinstance(user, str) else None, user_agent=request.user_agent,
        )  # fmt: skip
        self.request_log.write(fields)


class _Outcome(NamedTuple):
    """What an event takes from an answer and its outcome (see :meth:`Provisioner.finished`)."""

    mac: str | None
    vendor: str | None
    remember: bool
    """The request was privileged and names a device: its address is remembered."""
    running: str | None
    """The firmware version the device reported of itself, to note as running."""
    detail: str | None
    model: str | None
    firmware: str | None
    trust: str | None
    secrets: bool
    """A secret went out: a disclosure."""
    update_device: bool
    fetched_own: bool
    """The device now holds its own file's current content (its generation is noted)."""
    error: bool


def _names_itself(answer: Answer | None) -> bool:
    """Whether a stranger's request may be recorded as a sighting of the unknown device it
    names (so an unassigned phone shows up for claiming): only when it is no phone of the
    inventory and its User-Agent names that same MAC. A sweep of made-up file names then
    leaves no trace in the device list, and nothing a stranger sends moves a real phone's
    state."""
    if answer is None or answer.known or answer.mac is None or answer.detail == BLOCKED:
        return False
    return answer.facts is not None and answer.facts.mac == answer.mac
