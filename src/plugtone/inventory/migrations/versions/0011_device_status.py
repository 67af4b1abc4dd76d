"""device status: which generation each phone's files changed at and were fetched at

- ``phones.changed_generation``: the inventory generation at which the phone's own
  files last changed (written in the same transaction as the change). The global
  generation moves with any change anywhere, so it cannot say whether one phone is
  stale; this can. ``NULL`` for phones unchanged since this migration.
- ``device_states.files_generation``: the generation the device's newest own file
  (a DEVICE file of its vendor) was served at.
- ``device_states.boot_started`` / ``boot_errors``: when the device's last boot (a run
  of requests with no gap longer than five minutes) began, and how many of its
  requests failed; ``last_error`` / ``last_error_at`` say what failed last.

Kept in ``device_states``, not derived from the event log, so status survives the
log's pruning.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DEVICE_COLUMNS = ("files_generation", "boot_started", "boot_errors", "last_error",
                   "last_error_at")  # fmt: skip


def upgrade() -> None:
    # Plain ADD COLUMN: a batch rebuild of ``phones`` would trip the foreign keys to it.
    op.add_column("phones", sa.Column("changed_generation", sa.BigInteger(), nullable=True))
    op.add_column("device_states", sa.Column("files_generation", sa.BigInteger(), nullable=True))
    op.add_column(
        "device_states", sa.Column("boot_started", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "device_states",
        sa.Column("boot_errors", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("device_states", sa.Column("last_error", sa.String(length=255), nullable=True))
    op.add_column(
        "device_states", sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    for column in reversed(_DEVICE_COLUMNS):
        op.execute(f"ALTER TABLE device_states DROP COLUMN {column}")
    op.execute("ALTER TABLE phones DROP COLUMN changed_generation")
