"""redirection service (issue 15): accounts, users, servers, MAC registry; owned by the redirection work

The tables of ``plugtone.redirect.models``: service-provider accounts, their Users and
Super Users, configuration servers, brandings, registered MACs, the contacts counted
for the day and week statistics, the audit of who added, moved or deleted which MAC,
password-reset tokens and account-scoped API tokens.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLE = "role IN ('user', 'super')"


def _account(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["account_id"], ["rcs_accounts.id"],
                                   name=op.f(f"fk_{table}_account_id_rcs_accounts"),
                                   ondelete="CASCADE")  # fmt: skip


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    when = sa.DateTime(timezone=True)
    op.create_table(
        "rcs_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rcs_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_rcs_accounts_name")),
    )
    op.create_table(
        "rcs_api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("revoked_at", when, nullable=True),
        sa.CheckConstraint(_ROLE, name=op.f("ck_rcs_api_tokens_role")),
        _account("rcs_api_tokens"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rcs_api_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_rcs_api_tokens_token_sha256")),
    )
    op.create_index(op.f("ix_rcs_api_tokens_account_id"), "rcs_api_tokens", ["account_id"])
    op.create_table(
        "rcs_audit",
        sa.Column("id", big_id, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("time", when, nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        _account("rcs_audit"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rcs_audit")),
    )
    op.create_index("ix_rcs_audit_account_time", "rcs_audit", ["account_id", "time"])
    op.create_table(
        "rcs_brandings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        _account("rcs_brandings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rcs_brandings")),
        sa.UniqueConstraint("account_id", "name", name="rcs_branding_name"),
    )
    op.create_index(op.f("ix_rcs_brandings_account_id"), "rcs_brandings", ["account_id"])
    op.create_table(
        "rcs_servers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=255), nullable=False),
        _account("rcs_servers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rcs_servers")),
        sa.UniqueConstraint("account_id", "name", name="rcs_server_name"),
    )
    op.create_index(op.f("ix_rcs_servers_account_id"), "rcs_servers", ["account_id"])
    op.create_table(
        "rcs_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("phone1", sa.String(length=32), nullable=True),
        sa.Column("phone2", sa.String(length=32), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("password_changed_at", when, nullable=False),
        sa.CheckConstraint(_ROLE, name=op.f("ck_rcs_users_role")),
        _account("rcs_users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rcs_users")),
        sa.UniqueConstraint("email", name=op.f("uq_rcs_users_email")),
    )
    op.create_index(op.f("ix_rcs_users_account_id"), "rcs_users", ["account_id"])
    op.create_table(
        "rcs_contacts",
        sa.Column("id", big_id, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("mac", sa.String(length=12), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=True),
        sa.Column("at", when, nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        _account("rcs_contacts"),
        sa.ForeignKeyConstraint(
            ["server_id"],
            ["rcs_servers.id"],
            name=op.f("fk_rcs_contacts_server_id_rcs_servers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rcs_contacts")),
    )
    op.create_index("ix_rcs_contacts_account_at", "rcs_contacts", ["account_id", "at"])
    op.create_table(
        "rcs_phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mac", sa.String(length=12), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=True),
        sa.Column("firmware", sa.String(length=64), nullable=True),
        sa.Column("branding_id", sa.Integer(), nullable=True),
        sa.Column("claim_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("last_contact", when, nullable=True),
        sa.Column("redirected_at", when, nullable=True),
        _account("rcs_phones"),
        sa.ForeignKeyConstraint(
            ["branding_id"],
            ["rcs_brandings.id"],
            name=op.f("fk_rcs_phones_branding_id_rcs_brandings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["server_id"],
            ["rcs_servers.id"],
            name=op.f("fk_rcs_phones_server_id_rcs_servers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rcs_phones")),
        sa.UniqueConstraint("mac", name=op.f("uq_rcs_phones_mac")),
    )
    op.create_index(op.f("ix_rcs_phones_account_id"), "rcs_phones", ["account_id"])
    op.create_index(op.f("ix_rcs_phones_server_id"), "rcs_phones", ["server_id"])
    op.create_table(
        "rcs_reset_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("expires_at", when, nullable=False),
        sa.Column("used_at", when, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["rcs_users.id"],
            name=op.f("fk_rcs_reset_tokens_user_id_rcs_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rcs_reset_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_rcs_reset_tokens_token_sha256")),
    )
    op.create_index(op.f("ix_rcs_reset_tokens_user_id"), "rcs_reset_tokens", ["user_id"])


def downgrade() -> None:
    for table in ("rcs_reset_tokens", "rcs_phones", "rcs_contacts", "rcs_users",
                  "rcs_servers", "rcs_brandings", "rcs_audit", "rcs_api_tokens",
                  "rcs_accounts"):  # fmt: skip
        op.drop_table(table)  # its indexes go with it
