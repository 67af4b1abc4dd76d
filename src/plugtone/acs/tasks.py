"""Per-device task queues: what an operator asked a device to do, run in order.

A task is ``queued`` until a session reaches it, ``running`` once its RPC was sent
(a transfer stays so until its TransferComplete), then ``done`` or ``failed``. A fault
that may pass (the CPE busy, a transfer that broke) sends it back to the queue with
an exponential back-off, up to :data:`MAX_ATTEMPTS` tries; any other fault fails it at
once with the fault's meaning in words. Later tasks of the device wait behind a
running one: "reboot, then back up" must not be reordered.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from plugtone.acs.models import AcsDevice, AcsTask
from plugtone.acs.records import TRANSFER_LIFETIME, _aware, now
from plugtone.inventory.models import AuditEntry
from plugtone.inventory.store import Store

KINDS = ("reboot", "factory-reset", "refresh", "set", "firmware", "backup", "restore", "logs")
OPEN = ("queued", "running")
MAX_ATTEMPTS = 4
BACKOFF = timedelta(seconds=30)
"""First retry after 30 s, then 60, 120..."""
TRANSIENT_FAULTS = frozenset({9002, 9004, 9010, 9011, 9012, 9013, 9015, 9016, 9017, 9018,
                              9019, 9020, 8005})  # fmt: skip
"""Faults worth retrying: internal error, resources exceeded, transfer failures."""


@dataclass(frozen=True)
class TaskInfo:
    id: int
    mac: str | None
    kind: str
    arguments: dict
    status: str
    command_key: str
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    fault_code: int | None
    message: str | None

    def as_dict(self) -> dict:
        return {
            "id": self.id, "mac": self.mac, "kind": self.kind, "arguments": self.arguments,
            "status": self.status, "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "fault_code": self.fault_code, "message": self.message,
        }  # fmt: skip


def _info(task: AcsTask, mac: str | None) -> TaskInfo:
    return TaskInfo(
        id=task.id, mac=mac, kind=task.kind, arguments=dict(task.arguments or {}),
        status=task.status, command_key=task.command_key, attempts=task.attempts,
        created_at=_aware(task.created_at), finished_at=_aware(task.finished_at),
        fault_code=task.fault_code, message=task.message,
    )  # fmt: skip


def add_task(
    store: Store, device_id: int, kind: str, arguments: dict, created_by: str | None,
    via: str = "cli",
) -> TaskInfo:  # fmt: skip
    """Queue a task, with its audit entry in the same transaction (a ``set`` of a
    password-like parameter is audited without its value)."""
    with store.sessions() as session:
        task = AcsTask(
            device_id=device_id, kind=kind, arguments=arguments, status="queued",
            command_key=f"pt-{secrets.token_hex(8)}", attempts=0, created_at=now(),
            created_by=created_by,
        )  # fmt: skip
        session.add(task)
        mac = session.scalar(select(AcsDevice.mac).where(AcsDevice.id == device_id))
        shown = dict(arguments)
        if "value" in shown and "password" in str(shown.get("name", "")).lower():
            shown["value"] = "********"
        session.add(AuditEntry(
            time=now(), batch=secrets.token_hex(8), actor=(created_by or "?")[:96], via=via,
            action="queue", kind="acs-task", key=mac or str(device_id),
            summary=" ".join([kind, *(f"{k}={v}" for k, v in shown.items())])[:1000],
            before=None, after={"kind": kind, **shown},
        ))  # fmt: skip
        session.commit()
        return _info(task, mac)


def get_task(store: Store, task_id: int) -> TaskInfo | None:
    with store.sessions() as session:
        task = session.get(AcsTask, task_id)
        if task is None:
            return None
        mac = session.scalar(select(AcsDevice.mac).where(AcsDevice.id == task.device_id))
        return _info(task, mac)


def device_tasks(store: Store, device_id: int, limit: int = 100) -> list[TaskInfo]:
    with store.sessions() as session:
        mac = session.scalar(select(AcsDevice.mac).where(AcsDevice.id == device_id))
        rows = session.scalars(
            select(AcsTask).where(AcsTask.device_id == device_id)
            .order_by(AcsTask.id.desc()).limit(limit)
        )  # fmt: skip
        return [_info(task, mac) for task in rows]


def next_task(store: Store, device_id: int) -> TaskInfo | None:
    """The device's first open task if it can run now; ``None`` when the queue is empty,
    its head is still running (a transfer not yet reported), or backing off."""
    at = now()
    with store.sessions() as session:
        task = session.scalar(
            select(AcsTask).where(AcsTask.device_id == device_id, AcsTask.status.in_(OPEN))
            .order_by(AcsTask.id).limit(1)
        )  # fmt: skip
        if task is None:
            return None
        if task.status == "running":
            started = _aware(task.started_at)
            if started is not None and at - started > TRANSFER_LIFETIME:
                _finish(task, "failed", None, "no TransferComplete within an hour")
                session.commit()
                return next_task(store, device_id)
            return None
        not_before = _aware(task.not_before)
        if not_before is not None and not_before > at:
            return None
        return _info(task, None)


def start(store: Store, task_id: int) -> None:
    with store.sessions() as session:
        task = session.get(AcsTask, task_id)
        assert task is not None
        task.status = "running"
        task.started_at = now()
        task.attempts += 1
        session.commit()


def finish(store: Store, task_id: int, message: str | None = None) -> None:
    with store.sessions() as session:
        task = session.get(AcsTask, task_id)
        if task is not None and task.status in OPEN:
            _finish(task, "done", None, message)
            session.commit()


def fail(store: Store, task_id: int, code: int | None, message: str) -> str:
    """Record a fault: back to the queue with back-off if it may pass and tries remain,
    else failed. Returns the new status."""
    with store.sessions() as session:
        task = session.get(AcsTask, task_id)
        if task is None or task.status not in OPEN:
            return task.status if task is not None else "failed"
        if code in TRANSIENT_FAULTS and task.attempts < MAX_ATTEMPTS:
            task.status = "queued"
            task.not_before = now() + BACKOFF * (2 ** (task.attempts - 1))
            task.fault_code, task.message = code, f"{message} (retrying)"
        else:
            _finish(task, "failed", code, message)
        session.commit()
        return task.status


def _finish(task: AcsTask, status: str, code: int | None, message: str | None) -> None:
    task.status = status
    task.finished_at = now()
    task.fault_code = code
    task.message = message


def by_command_key(store: Store, device_id: int, command_key: str) -> TaskInfo | None:
    with store.sessions() as session:
        task = session.scalar(
            select(AcsTask).where(
                AcsTask.device_id == device_id, AcsTask.command_key == command_key
            )
        )
        return _info(task, None) if task is not None else None
