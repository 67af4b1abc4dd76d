"""sealed vendor settings

Raw vendor settings (``vendor_settings.value``) are sealed with the store's secret key
like the other secret columns (see 0007): they may hold passwords (a phone's admin
password, a directory's LDAP login) under names plugtone cannot all know. The column
stays TEXT; values are rewritten in place. Downgrade opens them again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 11:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from plugtone.inventory.secret_column import keys_of
from plugtone.inventory.secret_keys import is_sealed

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rewrite(change) -> None:
    bind = op.get_bind()
    table = sa.table("vendor_settings", sa.column("id", sa.Integer), sa.column("value", sa.Text))
    rows = bind.execute(sa.select(table.c.id, table.c.value).where(table.c.value.isnot(None)))
    updates = [
        {"row_id": row_id, "new_value": new}
        for row_id, value in rows
        if (new := change(value)) is not None
    ]
    if updates:
        bind.execute(
            table.update()
            .where(table.c.id == sa.bindparam("row_id"))
            .values(value=sa.bindparam("new_value")),
            updates,
        )


def upgrade() -> None:
    source = keys_of(op.get_bind().dialect)
    source.ensure()
    _rewrite(lambda value: None if is_sealed(value) else source.seal(value))


def downgrade() -> None:
    source = keys_of(op.get_bind().dialect)
    _rewrite(lambda value: source.open(value) if is_sealed(value) else None)
