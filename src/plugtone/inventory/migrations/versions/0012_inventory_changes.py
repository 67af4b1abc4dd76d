"""inventory changes: which generations only the marked phones describe

- ``inventory_changes``: one row per generation whose change is described by the
  phones it marked (``phones.changed_generation``) plus the MACs it deleted (``gone``),
  so a process that saw generation G drops, on reaching G', only the cached files of
  those phones; a generation without a row means "drop everything".
- an index on ``phones.changed_generation``: every process asks, each time the
  generation moves, for the phones marked after the one it saw.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inventory_changes",
        sa.Column("generation", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("gone", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("generation", name=op.f("pk_inventory_changes")),
    )
    op.create_index(
        op.f("ix_phones_changed_generation"), "phones", ["changed_generation"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_phones_changed_generation"), table_name="phones")
    op.drop_table("inventory_changes")
