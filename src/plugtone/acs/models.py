"""The ACS's tables: devices, cached parameter trees, tasks, uploads, transfer URLs.

Declared on the inventory's ``Base`` (migration ``0013``), so the store's one
metadata, and the test that compares it with the migrated schema, cover them.
Secrets (each device's own ACS password, uploaded configuration files, which hold
SIP passwords) are sealed at rest like every other secret column.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from plugtone.inventory.models import Base
from plugtone.inventory.secret_column import SecretLongText, SecretText


class AcsDevice(Base):
    """A CPE that has talked to the ACS, known by its DeviceId (OUI + serial number).

    ``mac`` ties it to an inventory phone once learnt (from the Inform or a
    GetParameterValues); a device whose MAC is in no site is kept as seen but
    unassigned. ``username``/``password`` are the per-device credentials the ACS gave
    it at its first session (until then it uses its site's bootstrap login).
    """

    __tablename__ = "acs_devices"
    __table_args__ = (UniqueConstraint("oui", "serial", name="oui_serial"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    oui: Mapped[str] = mapped_column(String(6))
    serial: Mapped[str] = mapped_column(String(64))
    product_class: Mapped[str | None] = mapped_column(String(64), nullable=True)
    manufacturer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mac: Mapped[str | None] = mapped_column(String(12), nullable=True, unique=True)
    software_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    connection_request_url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    udp_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """``host:port`` learnt by STUN (TR-111 ``UDPConnectionRequestAddress``)."""
    username: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    password: Mapped[str | None] = mapped_column(SecretText(), nullable=True)
    connection_username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    connection_password: Mapped[str | None] = mapped_column(SecretText(), nullable=True)
    """What the ACS set as ManagementServer.ConnectionRequestUsername/Password."""
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_inform: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_events: Mapped[str | None] = mapped_column(String(255), nullable=True)
    parameter_key: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The ParameterKey the device reported: the inventory generation last applied."""
    applied_generation: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    applied_secrets: Mapped[dict] = mapped_column(JSON, default=dict)
    """SHA-256 of each secret value set (passwords read back empty, so a digest of what
    was set is how the ACS knows whether to set one again)."""
    last_error: Mapped[str | None] = mapped_column(String(255), nullable=True)


class AcsParameterTree(Base):
    """The parameter names (and writability) one model on one firmware exposes.

    Discovered once with GetParameterNames and reused by every device of that model
    and version: a fleet of one model costs one discovery, not one per phone.
    """

    __tablename__ = "acs_parameter_trees"
    __table_args__ = (UniqueConstraint("product_class", "software_version", name="model_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_class: Mapped[str] = mapped_column(String(64))
    software_version: Mapped[str] = mapped_column(String(64))
    names: Mapped[dict] = mapped_column(JSON)
    """``{name: writable}`` for every parameter (objects end with a dot)."""
    discovered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AcsTask(Base):
    """Something an operator asked a device to do, run in order at its next session.

    ``status``: ``queued``, ``running`` (sent, answer awaited; a transfer waits for its
    TransferComplete), ``done``, ``failed``. A fault that may pass (9002, 9010, ...) is
    retried with back-off until ``attempts`` reaches the limit.
    """

    __tablename__ = "acs_tasks"
    __table_args__ = (Index("ix_acs_tasks_device_status", "device_id", "status", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("acs_devices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    arguments: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    command_key: Mapped[str] = mapped_column(String(32), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    fault_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(96), nullable=True)


class AcsUpload(Base):
    """A file a device sent by HTTP PUT for an Upload task: a configuration backup or a
    log. The content is sealed (a configuration holds SIP passwords), base64 inside."""

    __tablename__ = "acs_uploads"
    __table_args__ = (Index("ix_acs_uploads_device", "device_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("acs_devices.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("acs_tasks.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(SecretLongText())
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AcsTransfer(Base):
    """A one-time URL for one transfer of one task: only the token's SHA-256 is kept.

    ``direction`` ``down`` serves a firmware image or a stored backup once; ``up``
    accepts one PUT. ``used`` is set by the first request; a second one is refused.
    """

    __tablename__ = "acs_transfers"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("acs_tasks.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    source: Mapped[str | None] = mapped_column(String(128), nullable=True)
    """What a download serves: ``firmware:<sha256>`` or ``upload:<id>``."""
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[bool] = mapped_column(Boolean, default=False)
