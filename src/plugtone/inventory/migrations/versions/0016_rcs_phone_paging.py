"""redirection service phones paging: an account's MACs as index ranges at 100,000 phones

- ``ix_rcs_phones_account_mac`` ``(account_id, mac)``: the account's phones by MAC,
  keyset-paged, and a partial MAC as a range of it (replaces ``ix_rcs_phones_account_id``,
  of which it is a prefix: the account's cascade and counts use it as well);
- ``ix_rcs_phones_account_server_mac`` ``(account_id, server_id, mac)``: one server's
  phones, or the unaffiliated ones (``server_id IS NULL``), by MAC, and the per-server
  counts of the Servers and Summary pages.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 18:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_rcs_phones_account_mac", ["account_id", "mac"]),
    ("ix_rcs_phones_account_server_mac", ["account_id", "server_id", "mac"]),
)


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "rcs_phones", columns)
    op.drop_index("ix_rcs_phones_account_id", table_name="rcs_phones")


def downgrade() -> None:
    op.create_index("ix_rcs_phones_account_id", "rcs_phones", ["account_id"])
    for name, _ in INDEXES:
        op.drop_index(name, table_name="rcs_phones")
