"""``/api/acs``: TR-069 tasks and what the ACS knows of a device.

The same service calls as ``plugtone acs`` (:mod:`plugtone.acs.service`): queueing a
task needs the operator role, reading the viewer role. ``connect`` sends the device a
connection request at once; ``wait`` (seconds) waits for the outcome: ``200`` with the
task once it is done or failed, ``202`` while it is still queued or running.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from plugtone.acs import service
from plugtone.acs.tasks import TaskInfo
from plugtone.web.deps import CallerDep, StoreDep

router = APIRouter(tags=["acs"])

Kind = Literal["reboot", "factory-reset", "refresh", "set", "firmware", "backup", "restore", "logs"]


class TaskAsk(BaseModel):
    kind: Kind
    name: str | None = Field(None, description="`set`: the parameter's full name")
    value: str | None = Field(None, description="`set`: its value")
    upload: int | None = Field(None, description="`restore`: a stored backup (default: latest)")
    connect: bool = Field(False, description="send a connection request now")
    wait: float = Field(0, ge=0, le=60, description="seconds to wait for the outcome")


class Task(BaseModel):
    id: int
    mac: str | None
    kind: str
    arguments: dict
    status: str
    attempts: int
    created_at: str
    finished_at: str | None
    fault_code: int | None
    message: str | None
    connection_request: str | None = None


class Upload(BaseModel):
    id: int
    kind: str
    size: int
    received_at: str


class Device(BaseModel):
    mac: str | None
    oui: str
    serial: str
    product_class: str | None
    software_version: str | None
    last_inform: str | None
    last_events: str | None
    parameter_key: str | None
    applied_generation: int | None
    connection_request_url: str | None
    udp_address: str | None
    last_error: str | None
    tasks: list[Task]
    uploads: list[Upload]


class Connected(BaseModel):
    message: str


def _task(info: TaskInfo, note: str | None = None) -> Task:
    return Task(**info.as_dict(), connection_request=note)


@router.post(
    "/acs/devices/{mac}/tasks", response_model=Task, status_code=202,
    summary="Queue a TR-069 task (200 once done when waited for, 202 while queued)",
    responses={200: {"model": Task, "description": "finished within `wait`"}},
)  # fmt: skip
async def post_task(mac: str, ask: TaskAsk, actor: CallerDep, store: StoreDep):
    queued = await asyncio.to_thread(service.queue, store, actor, mac, ask.kind,
                                     name=ask.name, value=ask.value, upload=ask.upload)  # fmt: skip
    note = await service.connect(store, actor, mac) if ask.connect else None
    final = queued
    if ask.wait:
        final = await asyncio.to_thread(service.wait, store, queued.id, ask.wait) or queued
    body = _task(final, note)
    finished = final.status in ("done", "failed")
    return JSONResponse(body.model_dump(), status_code=200 if finished else 202)


@router.get("/acs/devices/{mac}", response_model=Device, summary="A TR-069 device")
async def get_device(mac: str, actor: CallerDep, store: StoreDep) -> Device:
    info, found, uploads = await asyncio.to_thread(service.device, store, actor, mac)
    return Device(
        **info.as_dict(), tasks=[_task(item) for item in found],
        uploads=[Upload(**upload.__dict__) for upload in uploads],
    )  # fmt: skip


@router.get("/acs/tasks/{task_id}", response_model=Task, summary="A TR-069 task")
async def get_task(task_id: int, actor: CallerDep, store: StoreDep) -> Task:
    return _task(await asyncio.to_thread(service.task, store, actor, task_id))


@router.post("/acs/devices/{mac}/connect", response_model=Connected,
             summary="Send a TR-069 connection request now")  # fmt: skip
async def post_connect(mac: str, actor: CallerDep, store: StoreDep) -> Connected:
    return Connected(message=await service.connect(store, actor, mac))
