"""The one object every phone-facing transport talks to.

It couples the resolver (what to answer) with the event recorder (what happened),
so a transport's whole job is: build a :class:`FileRequest`, await
:meth:`Provisioner.answer`, send the bytes, call :meth:`Provisioner.finished`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from plugtone.firmware.repository import FileStore
from plugtone.provisioning.events import Event, EventRecorder
from plugtone.provisioning.resolver import Answer, FileRequest, Resolver
from plugtone.provisioning.uploads import UploadStore
from plugtone.vendors.base import UploadRef


class Provisioner:
    def __init__(self, resolver: Resolver, recorder: EventRecorder, uploads: UploadStore) -> None:
        self.resolver = resolver
        self.recorder = recorder
        self.uploads = uploads

    @classmethod
    def for_store(
        cls, store, registry, data_dir: Path, *, cache_phones: int = 20_000
    ) -> Provisioner:
        uploads = UploadStore(data_dir / "uploads")
        resolver = Resolver(
            store, registry, cache_size=cache_phones, uploads=uploads,
            firmware_files=FileStore(data_dir / "firmware"),
        )  # fmt: skip
        resolver.refresh(force=True)
        return cls(resolver, EventRecorder(store), uploads)

    async def upload_target(self, request: FileRequest) -> UploadRef | None:
        """Whether ``request`` may upload, and where to; ``None`` means refuse."""
        return await asyncio.to_thread(self.resolver.upload_target, request)

    async def store_upload(
        self, request: FileRequest, ref: UploadRef, content: bytes, *, append: bool = False
    ) -> int:
        """Save an accepted upload (raises ``UploadTooLarge``) and log it."""
        size = await asyncio.to_thread(self.uploads.save, ref, content, append=append)
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
            )
        )
        return size

    async def answer(self, request: FileRequest) -> Answer:
        """Resolve on the event loop when cached, else in a worker thread."""
        answer = self.resolver.cached(request)
        if answer is None:
            answer = await asyncio.to_thread(self.resolver.resolve, request)
        return answer

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
        """
        mac = answer.mac if answer else None
        facts = answer.facts if answer else None
        if mac and request.client_address:
            self.resolver.remember_address(request.client_address, mac)
        if mac and facts is not None and facts.firmware_version and facts.mac in (None, mac):
            self.resolver.note_running(mac, facts.firmware_version)
        if answer is not None and answer.firmware_version is not None:
            complete = status == "ok" and sent >= answer.size
            self.resolver.firmware_sent(answer, complete, status)
        if self.resolver.firmware_changes:
            for row in self.resolver.take_firmware_changes():
                self.recorder.record_firmware(row)
        self.recorder.record(
            Event(
                transport=request.transport,
                path=request.path,
                status=status,
                client_address=request.client_address,
                mac=mac,
                vendor=(answer.vendor if answer else None) or (facts.vendor if facts else None),
                bytes=sent,
                user_agent=request.user_agent,
                detail=detail or (answer.detail if answer else None),
                model=facts.model if facts else None,
                firmware_version=facts.firmware_version if facts else None,
            )
        )
