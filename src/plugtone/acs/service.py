"""TR-069 tasks as the CLI, the API and the UI ask for them: one set of rules.

Queueing a task needs the operator role (a factory reset too: it is undone by the next
BOOTSTRAP, which provisions the phone again); reading a device's tasks the viewer role.
A device is named by its MAC, as everywhere in plugtone; it must have talked to the ACS
at least once (the task waits for its next session, or for the connection request
:func:`connect` sends).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from plugtone.acs import tasks
from plugtone.acs.datamodel import connection_login
from plugtone.acs.models import AcsDevice, AcsUpload
from plugtone.acs.tasks import KINDS, TaskInfo
from plugtone.inventory.document import Problem
from plugtone.inventory.models import Phone, Site
from plugtone.inventory.store import Store
from plugtone.macaddr import MacError, normalize_mac
from plugtone.services.actors import Actor, Role, require
from plugtone.services.errors import Invalid, NotFound

MAX_VALUE = 1024


@dataclass(frozen=True)
class DeviceInfo:
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

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class UploadInfo:
    id: int
    kind: str
    size: int
    received_at: str


def _mac(text: str) -> str:
    try:
        return normalize_mac(text)
    except MacError as error:
        raise Invalid([Problem("mac", str(error))]) from None


def _device_id(store: Store, mac: str) -> int:
    with store.sessions() as session:
        found = session.scalar(select(AcsDevice.id).where(AcsDevice.mac == mac))
    if found is None:
        raise NotFound(f"no TR-069 device with MAC {mac} has talked to the ACS")
    return found


def queue(
    store: Store, actor: Actor, mac: str, kind: str, *, name: str | None = None,
    value: str | None = None, upload: int | None = None,
) -> TaskInfo:  # fmt: skip
    """Queue ``kind`` for the device with ``mac``; runs at its next session, in order."""
    require(actor, Role.OPERATOR, "a TR-069 task")
    mac = _mac(mac)
    if kind not in KINDS:
        raise Invalid([Problem("kind", f"unknown task {kind!r} (tasks: {', '.join(KINDS)})")])
    arguments: dict = {}
    if kind == "set":
        if not name or value is None:
            raise Invalid([Problem("set", "set needs NAME=VALUE")])
        if len(name) > 256 or name.endswith(".") or len(value) > MAX_VALUE:
            raise Invalid([Problem("set", "a parameter's full name (no object path) and a "
                                          f"value of at most {MAX_VALUE} characters")])  # fmt: skip
        arguments = {"name": name, "value": value}
    if kind == "restore" and upload is not None:
        arguments = {"upload": int(upload)}
    return tasks.add_task(store, _device_id(store, mac), kind, arguments, actor.name, actor.via)


def device(
    store: Store, actor: Actor, mac: str
) -> tuple[DeviceInfo, list[TaskInfo], list[UploadInfo]]:
    require(actor, Role.VIEWER, "reading TR-069 devices")
    mac = _mac(mac)
    with store.sessions() as session:
        row = session.scalar(select(AcsDevice).where(AcsDevice.mac == mac))
        if row is None:
            raise NotFound(f"no TR-069 device with MAC {mac} has talked to the ACS")
        info = DeviceInfo(
            mac=row.mac, oui=row.oui, serial=row.serial, product_class=row.product_class,
            software_version=row.software_version,
            last_inform=row.last_inform.isoformat() if row.last_inform else None,
            last_events=row.last_events, parameter_key=row.parameter_key,
            applied_generation=row.applied_generation,
            connection_request_url=row.connection_request_url, udp_address=row.udp_address,
            last_error=row.last_error,
        )  # fmt: skip
        uploads = [
            UploadInfo(u.id, u.kind, u.size, u.received_at.isoformat())
            for u in session.scalars(
                select(AcsUpload).where(AcsUpload.device_id == row.id).order_by(AcsUpload.id)
            )
        ]
        device_id = row.id
    return info, tasks.device_tasks(store, device_id), uploads


def task(store: Store, actor: Actor, task_id: int) -> TaskInfo:
    require(actor, Role.VIEWER, "reading TR-069 tasks")
    found = tasks.get_task(store, task_id)
    if found is None:
        raise NotFound(f"no TR-069 task {task_id}")
    return found


def connection_target(store: Store, mac: str) -> tuple[str | None, str | None, str, str] | None:
    """``(url, udp address, user, password)`` to reach ``mac``, or ``None``."""
    with store.sessions() as session:
        row = session.execute(
            select(AcsDevice.connection_request_url, AcsDevice.udp_address,
                   AcsDevice.connection_username, AcsDevice.connection_password)
            .where(AcsDevice.mac == mac)
        ).first()  # fmt: skip
        if row is None:
            return None
        user, password = row.connection_username, row.connection_password
        if not user or not password:
            bootstrap = session.scalar(
                select(Site.tr069_password).join(Phone, Phone.site_id == Site.id)
                .where(Phone.mac == mac)
            )  # fmt: skip
            if not bootstrap:
                return None
            user, password = connection_login(mac, bootstrap)
    return row.connection_request_url, row.udp_address, user, password


_stun_sender: Callable[[bytes, tuple[str, int]], None] | None = None
"""This process's STUN socket (``serve --stun-port``), once it listens: a UDP connection
request sent from it passes a NAT that lets in only what comes from the address and
port the CPE's binding requests went to (TR-111 part 2)."""


def use_stun_sender(sendto: Callable[[bytes, tuple[str, int]], None] | None) -> None:
    """Send this process's UDP connection requests from ``sendto`` (``None``: own socket)."""
    global _stun_sender
    _stun_sender = sendto


async def connect(
    store: Store, actor: Actor, mac: str,
    sendto: Callable[[bytes, tuple[str, int]], None] | None = None,
) -> str:  # fmt: skip
    """Ask the device to open a session now (HTTP, else TR-111 UDP); what happened."""
    from plugtone.acs.connection_request import (
        http_connection_request,
        send_udp_connection_request,
    )

    require(actor, Role.OPERATOR, "a connection request")
    mac = _mac(mac)
    target = await asyncio.to_thread(connection_target, store, mac)
    if target is None:
        return "no connection-request address or login known for this device"
    url, udp, user, password = target
    if url:
        result = await http_connection_request(url, user, password, timeout=5)
        if result.ok or not udp:
            return result.message
    if udp:
        host, _, port = udp.rpartition(":")
        address = (host.strip("[]"), int(port))
        result = await send_udp_connection_request(
            address, user, password, sendto=sendto or _stun_sender
        )
        return result.message
    return "no connection-request address known for this device"


def wait(store: Store, task_id: int, seconds: float) -> TaskInfo | None:
    """Poll until the task is done or failed, or ``seconds`` passed; the task as it is."""
    deadline = time.monotonic() + seconds
    while True:
        found = tasks.get_task(store, task_id)
        if found is None or found.status not in tasks.OPEN or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)
