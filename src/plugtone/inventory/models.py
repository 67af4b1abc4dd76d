"""The inventory schema: the one place where plugtone keeps state.

Everything is vendor-neutral except ``VendorSetting`` rows, the escape hatch that
carries raw vendor keys at the site, model or phone level. Schema changes go
through the Alembic migrations in ``inventory/migrations``; ``Base.metadata`` here
must always equal what the migrations build (a test checks that).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from plugtone.inventory.secret_column import SecretLongText, SecretText

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Meta(Base):
    """Key/value facts about the store itself, such as the inventory generation.

    The generation increases with every committed inventory change; render caches
    in every plugtone process key on it, so a change is served everywhere at once.
    """

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class InventoryChange(Base):
    """A generation whose change the marked phones describe (written with the change).

    Caches drop, on a move past such a generation, only the phones marked with
    ``phones.changed_generation`` after it, plus ``gone``: the space-separated MACs it
    deleted (a deleted row leaves no mark). A generation without a row changed
    something wider (a model profile, a firmware release, a site deleted) or was
    written by code that does not say: caches drop everything
    (:mod:`plugtone.inventory.changes`).
    """

    __tablename__ = "inventory_changes"
    generation: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    gone: Mapped[str | None] = mapped_column(Text, nullable=True)


class Site(Base):
    """A place whose phones share one SIP server, time zone and dial plan."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    sip_server: Mapped[str] = mapped_column(String(255))
    sip_port: Mapped[int] = mapped_column(Integer, default=5060)
    sip_transport: Mapped[str] = mapped_column(String(8), default="udp")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    ntp_servers: Mapped[list[str]] = mapped_column(JSON, default=list)
    dial_plan: Mapped[str | None] = mapped_column(Text, nullable=True)
    digit_timeout: Mapped[int | None] = mapped_column(Integer, nullable=True)
    voicemail: Mapped[str | None] = mapped_column(String(64), nullable=True)
    conference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dtmf_method: Mapped[str] = mapped_column(String(16), default="rfc2833")
    registration_period: Mapped[int] = mapped_column(Integer, default=3600)
    codecs: Mapped[list[str]] = mapped_column(JSON, default=list)
    config_server: Mapped[str | None] = mapped_column(String(255), nullable=True)
    resync_time: Mapped[str | None] = mapped_column(String(5), nullable=True)
    nat: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    public_url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    branding_id: Mapped[int | None] = mapped_column(
        ForeignKey("branding_sets.id", ondelete="RESTRICT"), nullable=True
    )
    ftp_user: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    """An FTP login of the site's own: phones using it see only this site's files."""
    ftp_password: Mapped[str | None] = mapped_column(SecretText(), nullable=True)
    trusted_networks: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    """Networks whose clients get this site's phones' secrets: ``"10.1.0.0/16"`` (every
    transport) or ``{"network": ..., "transports": ["tftp", ...]}`` (see
    :mod:`plugtone.provisioning.trust`)."""
    """Sealed at rest (:class:`~plugtone.inventory.secret_column.SecretText`)."""
    tr069: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    """TR-069 ACS settings (``enabled``, ``bootstrap_username``,
    ``periodic_inform_interval``, ``allow_basic``); ``None``: not managed over CWMP."""
    tr069_password: Mapped[str | None] = mapped_column(SecretText(), nullable=True)
    """The site's bootstrap ACS password, sealed."""

    extensions: Mapped[list[Extension]] = relationship(back_populates="site", passive_deletes=True)
    phones: Mapped[list[Phone]] = relationship(back_populates="site", passive_deletes=True)


class Blob(Base):
    """Small binary content an admin supplied (logos, branding files), addressed by SHA-256.

    Kept in the store, not on one machine's disk, so every plugtone process sharing
    the database serves the same bytes. Firmware, which is large, lives on disk.
    """

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class DirectoryContact(Base):
    """A directory entry of a site (besides its own extensions)."""

    __tablename__ = "directory_contacts"
    __table_args__ = (Index("ix_directory_contacts_site", "site_id", "position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    number: Mapped[str] = mapped_column(String(64))


class ModelProfile(Base):
    """Settings shared by every phone of one model (the 'model' settings level)."""

    __tablename__ = "model_profiles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(64), unique=True)
    vendor: Mapped[str] = mapped_column(String(32))


class Extension(Base):
    """A SIP account on the PBX. The password is a secret: it is served, never logged."""

    __tablename__ = "extensions"
    __table_args__ = (
        UniqueConstraint("site_id", "number", name="site_number"),
        Index("ix_extensions_number", "number"),  # the phones list's search by number
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    number: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    auth_user: Mapped[str | None] = mapped_column(String(128), nullable=True)
    password: Mapped[str | None] = mapped_column(SecretText(), nullable=True)
    """Sealed at rest (:class:`~plugtone.inventory.secret_column.SecretText`)."""
    shared: Mapped[bool] = mapped_column(Boolean, default=False)

    site: Mapped[Site] = relationship(back_populates="extensions")
    assignments: Mapped[list[LineAssignment]] = relationship(
        back_populates="extension", passive_deletes=True
    )


class Phone(Base):
    """A physical phone, known by its MAC (12 upper-case hex digits).

    Lists of phones are pages in MAC order; each filter they take (site, model,
    vendor) has an index ending in ``mac``, so a page of a filtered list is a range
    read on one index, however deep the page.
    """

    __tablename__ = "phones"
    __table_args__ = (
        Index("ix_phones_site_mac", "site_id", "mac"),
        Index("ix_phones_model_mac", "model", "mac"),
        Index("ix_phones_vendor_mac", "vendor", "mac"),
        Index("ix_phones_description_mac", "description", "mac"),  # sorted by name
        Index("ix_phones_http_user", "http_user", unique=True),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mac: Mapped[str] = mapped_column(String(12), unique=True)
    model: Mapped[str] = mapped_column(String(64))
    vendor: Mapped[str] = mapped_column(String(32))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    branding_id: Mapped[int | None] = mapped_column(
        ForeignKey("branding_sets.id", ondelete="RESTRICT"), nullable=True
    )
    http_user: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The phone's own provisioning login (HTTP Digest, Basic over TLS, FTP)."""
    http_password: Mapped[str | None] = mapped_column(SecretText(), nullable=True)
    changed_generation: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    """The inventory generation at which this phone's files last changed (``None``: not
    since status was tracked); a device that fetched its files at an older generation is
    stale (:mod:`plugtone.services.status`)."""

    site: Mapped[Site] = relationship(back_populates="phones")
    lines: Mapped[list[LineAssignment]] = relationship(
        back_populates="phone", cascade="all, delete-orphan", order_by="LineAssignment.index"
    )


class LineAssignment(Base):
    """Extension ``extension`` on line ``index`` (1-based) of ``phone``."""

    __tablename__ = "line_assignments"
    __table_args__ = (
        UniqueConstraint("phone_id", "index", name="phone_index"),
        CheckConstraint('"index" >= 1', name="index_positive"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone_id: Mapped[int] = mapped_column(ForeignKey("phones.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    extension_id: Mapped[int] = mapped_column(
        ForeignKey("extensions.id", ondelete="RESTRICT"), index=True
    )
    """Indexed: deleting an extension asks which lines it is on."""

    phone: Mapped[Phone] = relationship(back_populates="lines")
    extension: Mapped[Extension] = relationship(back_populates="assignments")


class Key(Base):
    """A programmable key, owned by a site (default for its phones) or by one phone.

    A phone with keys of its own uses those; a phone without uses its site's.
    ``family`` and ``index`` pin a key to a vendor's key family and slot when the
    neutral order is not what the admin wants.
    """

    __tablename__ = "keys"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN site_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN phone_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner",
        ),
        Index("ix_keys_owner", "site_id", "phone_id", "position"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), nullable=True
    )
    phone_id: Mapped[int | None] = mapped_column(
        ForeignKey("phones.id", ondelete="CASCADE"), nullable=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    family: Mapped[str | None] = mapped_column(String(32), nullable=True)
    slot: Mapped[int | None] = mapped_column(Integer, nullable=True)


class VendorSetting(Base):
    """A raw vendor key at one settings level: site, branding set, model or phone.

    The escape hatch for everything the neutral inventory does not model; the
    vendor plug-in merges these last, so they win over what it derives.
    """

    __tablename__ = "vendor_settings"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN site_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN model_profile_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN phone_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN branding_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner",
        ),
        Index("ix_vendor_settings_owner", "site_id", "model_profile_id", "phone_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), nullable=True
    )
    model_profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_profiles.id", ondelete="CASCADE"), nullable=True, index=True
    )
    phone_id: Mapped[int | None] = mapped_column(
        ForeignKey("phones.id", ondelete="CASCADE"), nullable=True, index=True
    )
    branding_id: Mapped[int | None] = mapped_column(
        ForeignKey("branding_sets.id", ondelete="CASCADE"), nullable=True, index=True
    )
    vendor: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(SecretLongText())
    """Sealed like every secret column: a raw key can hold anything a vendor takes,
    passwords included (an admin password, an LDAP or XML-API login), and plugtone cannot
    know every vendor's secret names, so none of them sits in clear in the database."""


class BrandingSet(Base):
    """A named look (logo, files, vendor settings) given to sites or phones."""

    __tablename__ = "branding_sets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    logo_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("blobs.sha256", ondelete="RESTRICT"), nullable=True
    )


class BrandingFile(Base):
    """A file of a branding set, served as given at ``branding/<set>/<name>``."""

    __tablename__ = "branding_files"
    __table_args__ = (UniqueConstraint("branding_id", "name", name="set_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    branding_id: Mapped[int] = mapped_column(ForeignKey("branding_sets.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256", ondelete="RESTRICT"))


class FirmwareRelease(Base):
    """One vendor release (``3.3.1.4322``) for some models; its files live on disk.

    Files are kept by SHA-256 under ``<data>/firmware/`` (they are large, and phones
    are sent them with sendfile); the store holds only what they are and for whom.
    """

    __tablename__ = "firmware_releases"
    __table_args__ = (UniqueConstraint("vendor", "version", name="vendor_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vendor: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(64))
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(String(255), nullable=True)

    files: Mapped[list[FirmwareFileRow]] = relationship(
        back_populates="release", cascade="all, delete-orphan", order_by="FirmwareFileRow.name"
    )


class FirmwareFileRow(Base):
    """One file of a release: the name phones ask for and the content's SHA-256."""

    __tablename__ = "firmware_files"
    __table_args__ = (UniqueConstraint("release_id", "name", name="release_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("firmware_releases.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)

    release: Mapped[FirmwareRelease] = relationship(back_populates="files")


class FirmwarePin(Base):
    """ "These phones run this version": on a model, a site or one phone.

    The most specific pin wins (phone, then site, then model). ``version`` may be
    ``none``: leave the phone's firmware alone. A site pin may apply to one vendor or
    model only (``applies_to``). A staged pin names a first wave (frozen list of MACs
    chosen when the pin was set); until ``promoted``, other phones it governs keep
    ``previous_version`` (or fall through to a less specific pin).
    """

    __tablename__ = "firmware_pins"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN site_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN model_profile_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN phone_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner",
        ),
        Index("ix_firmware_pins_owner", "site_id", "model_profile_id", "phone_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), nullable=True
    )
    model_profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_profiles.id", ondelete="CASCADE"), nullable=True, index=True
    )
    phone_id: Mapped[int | None] = mapped_column(
        ForeignKey("phones.id", ondelete="CASCADE"), nullable=True, index=True
    )
    applies_to: Mapped[str | None] = mapped_column(String(64), nullable=True)
    version: Mapped[str] = mapped_column(String(64))
    previous_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_wave: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """How the wave was asked for: ``10%`` or ``list``; ``None`` for an immediate pin."""
    wave: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    """The first wave's MACs, frozen when the pin was set."""
    promoted: Mapped[bool] = mapped_column(Boolean, default=False)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeviceFirmware(Base):
    """Per-device firmware state: what it runs, what it should, what it was sent.

    Written from the event batches (never on the request path) and read back by the
    resolver, so a plug-in's "offer the image once" rule survives restarts and holds
    on every node sharing the store.
    """

    __tablename__ = "device_firmware"
    mac: Mapped[str] = mapped_column(String(12), primary_key=True)
    target_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    running_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    running_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    offered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_result: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_result_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DeviceState(Base):
    """What plugtone has learnt about a device from its requests.

    One row per MAC that ever asked, assigned or not: an unknown MAC shows up here
    as seen-but-unassigned, which is how admins find new phones to add. The last
    client address lets TFTP requests without a MAC in the file name be tied to a
    device.
    """

    __tablename__ = "device_states"
    __table_args__ = (
        Index("ix_device_states_last_seen_mac", "last_seen", "mac"),  # sorted by contact
    )
    mac: Mapped[str] = mapped_column(String(12), primary_key=True)
    vendor: Mapped[str | None] = mapped_column(String(32), nullable=True)
    model: Mapped[str | None] = mapped_column(String(64), nullable=True)
    firmware_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_address: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    last_user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    files_generation: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The generation its newest own (DEVICE) file was served at."""
    boot_started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When its last boot began: the first request after a gap (``events.BOOT_GAP``)."""
    boot_errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Requests of the last boot that failed (its own file missing, a transfer broken)."""
    last_error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """What failed last: status and path."""
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ProvisioningEvent(Base):
    """One request a phone made, on any transport, and how it was answered.

    Never holds file contents or credentials: a path, a status and a byte count.
    """

    __tablename__ = "provisioning_events"
    __table_args__ = (
        Index("ix_provisioning_events_mac_time", "mac", "time"),
        Index(
            "ix_provisioning_events_secrets_time",
            "time",
            postgresql_where=text("secrets"),
            sqlite_where=text("secrets"),
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    transport: Mapped[str] = mapped_column(String(8))
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    path: Mapped[str] = mapped_column(String(512))
    mac: Mapped[str | None] = mapped_column(String(12), nullable=True)
    vendor: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(255), nullable=True)
    trust: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """The request's trust level (``plugtone.provisioning.trust.Trust``)."""
    secrets: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    """The answer carried a secret (a SIP, HTTP, FTP or ACS credential): the audit of
    disclosures is these rows (``plugtone events --secrets``)."""


class ProvisioningWindow(Base):
    """A time-limited first-boot window an admin armed (``plugtone arm``): requests for
    the phones it covers (a site's, or listed MACs) are trusted while it is open."""

    __tablename__ = "provisioning_windows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), nullable=True, index=True
    )
    macs: Mapped[list[str]] = mapped_column(JSON, default=list)
    opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    once: Mapped[bool] = mapped_column(Boolean, default=False)
    """Close for each phone shortly after it was first sent a secret."""
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class User(Base):
    """A person or script that administers plugtone (the admin listener, the CLI).

    Only an argon2 hash of the password is kept. ``role`` is ``viewer``, ``operator``
    or ``admin``; the service layer checks it for every caller.
    """

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A bearer token for the REST API; only its SHA-256 is stored.

    Tokens are long random strings (not passwords people choose), so a fast hash is
    enough and lets every API request be checked with one indexed lookup. ``prefix``
    (the first characters of the token) names it in listings without revealing it.
    """

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditEntry(Base):
    """One change (or one disclosure) made through the service layer: who, when, what.

    ``before`` and ``after`` hold the object's neutral fields with every secret masked;
    no password ever reaches this table. One unit of work writes one row per object it
    changed, all with the same ``batch`` so an admin can see what one apply did.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_kind_key", "kind", "key"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    batch: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(96))
    via: Mapped[str] = mapped_column(String(16))
    """``cli``, ``api``, ``ui``: the face the change came through."""
    action: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)


# The ACS's tables live with the ACS (``plugtone.acs.models``) on this same metadata.
from plugtone.acs import models as _acs_models  # noqa: E402, F401

# The redirection service's tables live in their own module on this metadata (migration 0014).
from plugtone.redirect import models as _redirect_models  # noqa: E402, F401
