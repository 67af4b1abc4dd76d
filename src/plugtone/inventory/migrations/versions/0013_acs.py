"""TR-069 ACS (issue 14): devices, parameter trees, tasks, uploads, transfer URLs

- ``sites.tr069`` / ``sites.tr069_password``: a site's ACS settings and its bootstrap
  password (sealed).
- ``acs_devices``: CPEs by DeviceId (OUI + serial), their MAC once learnt, their own
  credentials (sealed), connection-request addresses, last inform, ParameterKey.
- ``acs_parameter_trees``: GetParameterNames results per product class and firmware.
- ``acs_tasks``: per-device queue (status, faults, retries).
- ``acs_uploads``: backups and logs devices PUT (sealed).
- ``acs_transfers``: one-time transfer URLs (token hashes).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from plugtone.inventory.secret_column import SecretLongText, SecretText

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN: no rebuild of ``sites``, which other tables reference.
    op.add_column("sites", sa.Column("tr069", sa.JSON(), nullable=True))
    op.add_column("sites", sa.Column("tr069_password", SecretText(), nullable=True))
    op.create_table(
        "acs_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("oui", sa.String(length=6), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("product_class", sa.String(length=64), nullable=True),
        sa.Column("manufacturer", sa.String(length=64), nullable=True),
        sa.Column("mac", sa.String(length=12), nullable=True),
        sa.Column("software_version", sa.String(length=64), nullable=True),
        sa.Column("connection_request_url", sa.String(length=255), nullable=True),
        sa.Column("udp_address", sa.String(length=64), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("password", SecretText(), nullable=True),
        sa.Column("connection_username", sa.String(length=64), nullable=True),
        sa.Column("connection_password", SecretText(), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_inform", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_events", sa.String(length=255), nullable=True),
        sa.Column("parameter_key", sa.String(length=32), nullable=True),
        sa.Column("applied_generation", sa.BigInteger(), nullable=True),
        sa.Column("applied_secrets", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acs_devices")),
        sa.UniqueConstraint("oui", "serial", name="oui_serial"),
        sa.UniqueConstraint("mac", name=op.f("uq_acs_devices_mac")),
        sa.UniqueConstraint("username", name=op.f("uq_acs_devices_username")),
    )
    op.create_table(
        "acs_parameter_trees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_class", sa.String(length=64), nullable=False),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acs_parameter_trees")),
        sa.UniqueConstraint(
            "product_class", "software_version",
            name="model_version",
        ),
    )  # fmt: skip
    op.create_table(
        "acs_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("command_key", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fault_code", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=96), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["acs_devices.id"],
            name=op.f("fk_acs_tasks_device_id_acs_devices"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acs_tasks")),
        sa.UniqueConstraint("command_key", name=op.f("uq_acs_tasks_command_key")),
    )  # fmt: skip
    op.create_index(
        "ix_acs_tasks_device_status", "acs_tasks", ["device_id", "status", "id"], unique=False
    )
    op.create_table(
        "acs_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", SecretLongText(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["acs_devices.id"],
            name=op.f("fk_acs_uploads_device_id_acs_devices"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["acs_tasks.id"],
            name=op.f("fk_acs_uploads_task_id_acs_tasks"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acs_uploads")),
    )  # fmt: skip
    op.create_index("ix_acs_uploads_device", "acs_uploads", ["device_id", "id"], unique=False)
    op.create_index(op.f("ix_acs_uploads_task_id"), "acs_uploads", ["task_id"], unique=False)
    op.create_table(
        "acs_transfers",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["acs_tasks.id"],
            name=op.f("fk_acs_transfers_task_id_acs_tasks"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_acs_transfers")),
    )  # fmt: skip
    op.create_index(op.f("ix_acs_transfers_task_id"), "acs_transfers", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_acs_transfers_task_id"), table_name="acs_transfers")
    op.drop_table("acs_transfers")
    op.drop_index(op.f("ix_acs_uploads_task_id"), table_name="acs_uploads")
    op.drop_index("ix_acs_uploads_device", table_name="acs_uploads")
    op.drop_table("acs_uploads")
    op.drop_index("ix_acs_tasks_device_status", table_name="acs_tasks")
    op.drop_table("acs_tasks")
    op.drop_table("acs_parameter_trees")
    op.drop_table("acs_devices")
    # SQLite 3.35+ drops columns in place; a batch rebuild of ``sites`` would trip the
    # foreign keys that point at it.
    for column in ("tr069_password", "tr069"):
        op.execute(f"ALTER TABLE sites DROP COLUMN {column}")
