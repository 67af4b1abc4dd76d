"""The redirection service's tables, on the inventory's metadata (one schema, one set
of migrations: 0014 builds these, 0016 indexes the phones for paging).

Every row below an account carries ``account_id`` and is deleted with its account. A
MAC is unique across accounts: one account holds it, and registering it elsewhere is
refused without saying who holds it. Passwords are argon2 hashes, as for plugtone's own
users; reset links and API tokens are random strings of which only the SHA-256 is kept.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
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

NAME_MAX = 20
"""A configuration server's name, as the vendor's guide limits it (20 characters)."""
URL_MAX = 255
"""A configuration server's URL, as the vendor's guide limits it (255 characters)."""


class RcsAccount(Base):
    """A service provider: its users, servers, brandings and phones."""

    __tablename__ = "rcs_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RcsUser(Base):
    """A User or Super User of one account; signs in with the e-mail address."""

    __tablename__ = "rcs_users"
    __table_args__ = (CheckConstraint("role IN ('user', 'super')", name="role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("rcs_accounts.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    phone1: Mapped[str | None] = mapped_column(String(32), nullable=True)
    phone2: Mapped[str | None] = mapped_column(String(32), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RcsServer(Base):
    """A configuration server phones are sent on to (``https://prov.example.com/x``)."""

    __tablename__ = "rcs_servers"
    __table_args__ = (UniqueConstraint("account_id", "name", name="rcs_server_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("rcs_accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    url: Mapped[str] = mapped_column(String(URL_MAX))


class RcsBranding(Base):
    """A named branding of one account: raw vendor settings by vendor
    (``{"aastra": {"web interface title": "Acme"}}``), served before the redirect."""

    __tablename__ = "rcs_brandings"
    __table_args__ = (UniqueConstraint("account_id", "name", name="rcs_branding_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("rcs_accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict] = mapped_column(JSON, default=dict)


class RcsPhone(Base):
    """A registered MAC: its account, and where and with what it is sent on.

    No server: the phone is *unaffiliated* (registered, not yet redirected anywhere).
    """

    __tablename__ = "rcs_phones"
    __table_args__ = (
        # by MAC within the account (pages, a partial MAC as a range); by server (or none)
        Index("ix_rcs_phones_account_mac", "account_id", "mac"),
        Index("ix_rcs_phones_account_server_mac", "account_id", "server_id", "mac"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mac: Mapped[str] = mapped_column(String(12), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("rcs_accounts.id", ondelete="CASCADE"))
    server_id: Mapped[int | None] = mapped_column(
        ForeignKey("rcs_servers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    firmware: Mapped[str | None] = mapped_column(String(64), nullable=True)
    branding_id: Mapped[int | None] = mapped_column(
        ForeignKey("rcs_brandings.id", ondelete="SET NULL"), nullable=True
    )
    claim_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """SHA-256 of the claim code (a serial number) the registering account gave."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_contact: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    redirected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When the phone was last given its server (the redirect itself)."""


class RcsContact(Base):
    """One phone request answered (kept eight days, for the day and week counts)."""

    __tablename__ = "rcs_contacts"
    __table_args__ = (Index("ix_rcs_contacts_account_at", "account_id", "at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("rcs_accounts.id", ondelete="CASCADE"))
    mac: Mapped[str] = mapped_column(String(12))
    server_id: Mapped[int | None] = mapped_column(
        ForeignKey("rcs_servers.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answer: Mapped[str] = mapped_column(String(16))
    """``redirect``, ``firmware`` or ``none`` (unaffiliated)."""


class RcsAudit(Base):
    """Who added, moved or deleted which MAC (and changed servers, users, brandings)."""

    __tablename__ = "rcs_audit"
    __table_args__ = (Index("ix_rcs_audit_account_time", "account_id", "time"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("rcs_accounts.id", ondelete="CASCADE"))
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(254))
    via: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)


class RcsResetToken(Base):
    """A password-reset link: single use, expiring; only its SHA-256 is kept."""

    __tablename__ = "rcs_reset_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("rcs_users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RcsApiToken(Base):
    """A bearer token for ``/api/rcs`` scoped to one account (acts as its User, or
    Super User); only its SHA-256 is kept."""

    __tablename__ = "rcs_api_tokens"
    __table_args__ = (CheckConstraint("role IN ('user', 'super')", name="role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("rcs_accounts.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(8))
    prefix: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
