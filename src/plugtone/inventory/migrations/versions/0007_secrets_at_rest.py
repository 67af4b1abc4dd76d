"""secrets at rest

SIP passwords (extensions.password) and site FTP passwords (sites.ftp_password) are
sealed with the store's secret key (AES-GCM; see plugtone.inventory.secret_keys) and
become TEXT, since a sealed value is longer than its clear text. The key is made
(``<data>/secret.key``, 0600) if none is configured, exactly as ``plugtone init``
would. A ``meta`` row holds a sealed known text, so a wrong key is refused at start.
Downgrade opens every value again and drops the check row.

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-12 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from plugtone.inventory.secret_column import keys_of
from plugtone.inventory.secret_keys import is_sealed

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECRET_COLUMNS = (("extensions", "password"), ("sites", "ftp_password"))
KEY_CHECK = "secret_key_check"
KEY_CHECK_TEXT = "plugtone"


def _retype(new_type: sa.types.TypeEngine, old_type: sa.types.TypeEngine) -> None:
    """PostgreSQL only: SQLite does not enforce VARCHAR lengths, and retyping there
    means rebuilding ``sites`` and ``extensions``, which other tables reference."""
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in SECRET_COLUMNS:
        op.alter_column(table, column, type_=new_type, existing_type=old_type,
                        existing_nullable=True)  # fmt: skip


def _rewrite(change) -> None:
    bind = op.get_bind()
    for table_name, column in SECRET_COLUMNS:
        table = sa.table(table_name, sa.column("id", sa.Integer), sa.column(column, sa.Text))
        rows = bind.execute(
            sa.select(table.c.id, table.c[column]).where(table.c[column].isnot(None))
        )
        updates = [
            {"row_id": row_id, "value": new}
            for row_id, value in rows
            if (new := change(value)) is not None
        ]
        if updates:
            bind.execute(
                table.update()
                .where(table.c.id == sa.bindparam("row_id"))
                .values({column: sa.bindparam("value")}),
                updates,
            )


def upgrade() -> None:
    source = keys_of(op.get_bind().dialect)
    source.ensure()
    _retype(sa.Text(), sa.String(length=255))
    _rewrite(lambda value: None if is_sealed(value) else source.seal(value))
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.String))
    op.get_bind().execute(meta.delete().where(meta.c.key == KEY_CHECK))
    op.get_bind().execute(meta.insert().values(key=KEY_CHECK, value=source.seal(KEY_CHECK_TEXT)))


def downgrade() -> None:
    source = keys_of(op.get_bind().dialect)
    _rewrite(lambda value: source.open(value) if is_sealed(value) else None)
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.String))
    op.get_bind().execute(meta.delete().where(meta.c.key == KEY_CHECK))
    _retype(sa.String(length=255), sa.Text())
