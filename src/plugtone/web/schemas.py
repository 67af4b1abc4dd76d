"""The API's request and response shapes, for the OpenAPI document.

Inventory entries are the inventory file's entries (docs/inventory-format.md): the
models here describe them for clients and for schemathesis, but a body is checked by
the file's own checker, not by these models, so there is one set of field rules.
``tests/test_api_schema.py`` fails when a field exists in the checker and not here,
or the other way round. A field left out takes its default, as in the file; reads
leave out fields at their default.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plugtone.inventory.document import CODECS, DTMF_METHODS, TRANSPORTS
from plugtone.vendors.base import NEUTRAL_KEY_TYPES

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
USER = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
NUMBER = r"^[0-9A-Za-z*#+][0-9A-Za-z*#+._-]{0,63}$"
HTTP_USER = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,39}$"

KeyType = Literal[NEUTRAL_KEY_TYPES]  # type: ignore[valid-type]
Transport = Literal[TRANSPORTS]  # type: ignore[valid-type]
DtmfMethod = Literal[DTMF_METHODS]  # type: ignore[valid-type]
Codec = Literal[CODECS]  # type: ignore[valid-type]
VendorSettings = dict[str, dict[str, str]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyEntry(_Strict):
    """A programmable key; ``family`` and ``slot`` pin it to a vendor's key family."""

    type: KeyType
    value: str | None = None
    label: str | None = None
    line: int | None = Field(None, ge=1, le=64)
    family: str | None = None
    slot: int | None = Field(None, ge=1, le=1000)


class Contact(_Strict):
    name: str
    number: str


class PinEntry(_Strict):
    """A firmware pin with options; a plain version string is the short form."""

    version: str
    first_wave: str | list[str] | None = Field(
        None, description="`N%` of the phones, or a list of MACs"
    )
    force: bool | None = None


Pin = str | PinEntry


class FtpAccount(_Strict):
    user: str
    password: str = Field(description="`********` in reads unless `secrets=true` (admins)")


class Tr069Settings(_Strict):
    """TR-069 ACS management of the site's phones (see docs/tr069.md)."""

    enabled: bool | None = None
    bootstrap_username: str | None = None
    bootstrap_password: str | None = Field(
        None, description="`********` in reads unless `secrets=true` (admins)"
    )
    periodic_inform_interval: int | None = Field(None, ge=30, le=604800)
    allow_basic: bool | None = Field(None, description="accept Basic auth over plain HTTP")
    acs_url: str | None = Field(None, description="the ACS URL phones are given")


class TrustedNetwork(_Strict):
    """A network trusted for some transports only."""

    network: str = Field(description="a network such as `10.1.0.0/16` (no host bits set)",
                         examples=["192.0.2.0/24"])  # fmt: skip
    transports: list[Literal["tftp", "ftp", "http", "https"]] | None = Field(
        None, description="default: every transport"
    )


class SiteEntry(_Strict):
    """A site: see docs/inventory-format.md, section sites."""

    name: str = Field(pattern=NAME, examples=["hq"])
    sip_server: str = Field(description="`host`, `host:port` or `[ipv6]:port`",
                            examples=["10.100.2.127"])  # fmt: skip
    sip_transport: Transport | None = None
    timezone: str | None = Field(None, description="an IANA time zone name")
    ntp_servers: list[str] | None = None
    dial_plan: str | None = None
    digit_timeout: int | None = Field(None, ge=1, le=60)
    voicemail: str | None = None
    conference: str | None = None
    dtmf_method: DtmfMethod | None = None
    registration_period: int | None = Field(None, ge=30, le=86400)
    codecs: list[Codec] | None = None
    config_server: str | None = None
    resync_time: str | None = Field(None, description="`HH:MM`")
    nat: bool | None = None
    public_url: str | None = None
    keys: list[KeyEntry] | None = None
    directory: list[Contact] | None = None
    branding: str | None = None
    firmware: Pin | dict[str, Pin] | None = Field(
        None, description="one pin, or `{<vendor or model>: pin}`"
    )
    ftp_account: FtpAccount | None = None
    vendor_settings: VendorSettings | None = None
    trusted_networks: list[str | TrustedNetwork] | None = Field(
        None, max_length=256,
        description="networks whose clients get this site's phones' secrets: `10.1.0.0/16` "
        "(every transport) or `{network, transports}`",
    )  # fmt: skip
    tr069: Tr069Settings | None = None


class ExtensionEntry(_Strict):
    """An extension: see docs/inventory-format.md, section extensions."""

    number: str = Field(pattern=NUMBER, examples=["3003"])
    site: str = Field(pattern=NAME, examples=["hq"])
    name: str | None = Field(None, examples=["John 3003"])
    auth_user: str | None = None
    password: str | None = Field(
        None, description="`********` in reads unless `secrets=true` (admins); sending the "
        "mask back keeps the stored password",
    )  # fmt: skip
    shared: bool | None = None


class PhoneEntry(_Strict):
    """A phone: see docs/inventory-format.md, section phones."""

    mac: str = Field(description="any common notation; reads give `00:08:5D:00:00:01`",
                     examples=["00:08:5D:00:00:01"])  # fmt: skip
    model: str = Field(examples=["6757i"])
    site: str = Field(pattern=NAME, examples=["hq"])
    lines: list[str | None] | None = Field(
        None, description="one extension per line (`number` or `site/number`), `null` skips",
        examples=[["3003"]],
    )  # fmt: skip
    keys: list[KeyEntry] | None = None
    vendor_settings: VendorSettings | None = None
    description: str | None = None
    branding: str | None = None
    firmware: Pin | None = None
    http_user: str | None = Field(
        None, pattern=HTTP_USER, description="the phone's own provisioning login (HTTP "
        "Digest, Basic over TLS, FTP); with `http_password`",
    )  # fmt: skip
    http_password: str | None = Field(
        None, pattern=r"^[!-~]{1,20}$", description="`********` in reads unless "
        "`secrets=true` (admins); sending the mask back keeps the stored password",
    )  # fmt: skip


class BrandingFileRef(_Strict):
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class BrandingEntry(_Strict):
    """A branding set; through the API, stored content is named by its SHA-256."""

    name: str = Field(pattern=NAME, examples=["lab-look"])
    logo: str | None = Field(None, pattern=r"^sha256:[0-9a-f]{64}$")
    files: list[BrandingFileRef] | None = None
    vendor_settings: VendorSettings | None = None


class ModelEntry(_Strict):
    model: str
    vendor_settings: VendorSettings | None = None
    firmware: Pin | None = None


class InventoryDocument(_Strict):
    """The whole inventory file as JSON."""

    branding: list[BrandingEntry] | None = None
    sites: list[SiteEntry] | None = None
    extensions: list[ExtensionEntry] | None = None
    phones: list[PhoneEntry] | None = None
    models: list[ModelEntry] | None = None


class ChangeOut(BaseModel):
    action: str = Field(description="create, update or delete")
    kind: str
    key: str
    details: list[str]


class Changes(BaseModel):
    """What a write changed (or, for a dry run, would change)."""

    changes: list[ChangeOut]
    generation: int | None = Field(description="the inventory generation after the write")


class SitePage(BaseModel):
    items: list[SiteEntry]
    next: str | None = Field(description="pass as `after` for the next page")


class ExtensionPage(BaseModel):
    items: list[ExtensionEntry]
    next: str | None


class PhonePage(BaseModel):
    items: list[PhoneEntry]
    next: str | None


class BrandingPage(BaseModel):
    items: list[BrandingEntry]
    next: str | None


class UserOut(BaseModel):
    name: str
    role: Literal["admin", "operator", "viewer"]
    created_at: datetime
    password_changed_at: datetime
    tokens: int = Field(description="live tokens")


class UserList(BaseModel):
    items: list[UserOut]


class UserCreate(_Strict):
    name: str = Field(max_length=64)
    role: Literal["admin", "operator", "viewer"]
    password: str = Field(max_length=1024)


class UserUpdate(_Strict):
    role: Literal["admin", "operator", "viewer"] | None = None
    password: str | None = Field(None, max_length=1024)


class TokenOut(BaseModel):
    id: int
    user: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    state: Literal["active", "revoked", "expired"]


class TokenList(BaseModel):
    items: list[TokenOut]


class TokenCreate(_Strict):
    user: str | None = Field(None, pattern=USER, description="default: the caller")
    expires_days: int | None = Field(None, ge=1, le=3650)


class NewToken(TokenOut):
    token: str = Field(description="the token itself, shown this once and never again")


class Me(BaseModel):
    name: str
    role: Literal["admin", "operator", "viewer"]


class AuditOut(BaseModel):
    id: int
    time: datetime
    batch: str = Field(description="rows written by one change share it")
    actor: str
    via: str
    action: str
    kind: str
    key: str
    summary: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next: str | None = Field(description="pass as `after` for the next (older) page")


class FieldProblem(BaseModel):
    field: str = Field(description="a field path relative to the body, such as `lines[1]`")
    message: str


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None
