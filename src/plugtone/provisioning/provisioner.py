"""The one object every phone-facing transport talks to.

It couples the resolver (what to answer) with the event recorder (what happened),
so a transport's whole job is: build a :class:`FileRequest`, await
:meth:`Provisioner.answer`, send the bytes, call :meth:`Provisioner.finished`.
"""

from __future__ import annotations

import asyncio

from plugtone.provisioning.events import Event, EventRecorder
from plugtone.provisioning.resolver import Answer, FileRequest, Resolver


class Provisioner:
    def __init__(self, resolver: Resolver, recorder: EventRecorder) -> None:
        self.resolver = resolver
        self.recorder = recorder

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
        """Record the outcome of one request (``status`` as the transport saw it)."""
        mac = answer.mac if answer else None
        facts = answer.facts if answer else None
        if mac and request.client_address:
            self.resolver.remember_address(request.client_address, mac)
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
