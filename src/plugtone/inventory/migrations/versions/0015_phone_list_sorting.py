"""phones list sorting and search: indexes for the web UI's phones list at 100,000 phones

- ``ix_phones_description_mac``: sorted by name (the description), keyset-paged;
- ``ix_device_states_last_seen_mac``: sorted by last contact, keyset-paged;
- ``ix_extensions_number``: a search by extension number finds the extensions with
  that number at any site (the unique ``(site_id, number)`` index does not serve a
  lookup by number alone).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 17:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_phones_description_mac", "phones", ["description", "mac"]),
    ("ix_device_states_last_seen_mac", "device_states", ["last_seen", "mac"]),
    ("ix_extensions_number", "extensions", ["number"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
