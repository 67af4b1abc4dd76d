"""trust: trusted networks, provisioning windows, per-device credentials, disclosure audit

- ``sites.trusted_networks``: networks whose clients get that site's secrets.
- ``phones.http_user`` / ``phones.http_password``: a phone's own provisioning login
  (the password sealed like every other secret).
- ``provisioning_windows``: time-limited first-boot windows (``plugtone arm``).
- ``provisioning_events.trust`` / ``.secrets``: each request's trust level, and
  whether its answer carried a secret; a partial index on the latter keeps
  ``plugtone events --secrets`` a range read however long the log grows.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from plugtone.inventory.secret_column import SecretText

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild): SQLite would otherwise copy ``sites`` and
    # ``phones``, which other tables reference, and refuse under foreign keys.
    op.add_column(
        "sites", sa.Column("trusted_networks", sa.JSON(), server_default="[]", nullable=False)
    )
    op.add_column("phones", sa.Column("http_user", sa.String(length=64), nullable=True))
    op.add_column("phones", sa.Column("http_password", SecretText(), nullable=True))
    op.create_index("ix_phones_http_user", "phones", ["http_user"], unique=True)
    op.add_column("provisioning_events", sa.Column("trust", sa.String(length=16), nullable=True))
    op.add_column(
        "provisioning_events",
        sa.Column("secrets", sa.Boolean(), server_default="0", nullable=False),
    )
    op.create_index(
        "ix_provisioning_events_secrets_time", "provisioning_events", ["time"],
        postgresql_where=sa.text("secrets"), sqlite_where=sa.text("secrets"),
    )  # fmt: skip
    op.create_table(
        "provisioning_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("macs", sa.JSON(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("once", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_provisioning_windows_site_id", "provisioning_windows", ["site_id"])
    op.create_index("ix_provisioning_windows_closes_at", "provisioning_windows", ["closes_at"])


def downgrade() -> None:
    op.drop_index("ix_provisioning_windows_closes_at", table_name="provisioning_windows")
    op.drop_index("ix_provisioning_windows_site_id", table_name="provisioning_windows")
    op.drop_table("provisioning_windows")
    op.drop_index("ix_provisioning_events_secrets_time", table_name="provisioning_events")
    op.drop_index("ix_phones_http_user", table_name="phones")
    # SQLite 3.35+ drops columns in place; a batch rebuild of ``sites`` would trip
    # the foreign keys that point at it.
    for table, column in (("provisioning_events", "secrets"), ("provisioning_events", "trust"),
                          ("phones", "http_password"), ("phones", "http_user"),
                          ("sites", "trusted_networks")):  # fmt: skip
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
