"""The redirection service's operations, as plain functions over one unit of work.

Every face (CLI, API, UI) calls these with an :class:`~.actors.RcsActor`; the role
checks are made here (Super Users for users and brandings, plugtone admins for
accounts), and every query is bounded to the actor's account by :func:`.work.find_account`.
Bulk calls (:func:`register_phones`, :func:`import_csv`) report an outcome per MAC and
change either every good row or nothing, as the caller chooses.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugtone.inventory.models import FirmwareRelease
from plugtone.inventory.store import Store
from plugtone.redirect import validate
from plugtone.redirect.actors import ROLES, RcsActor
from plugtone.redirect.models import (
    RcsAccount,
    RcsAudit,
    RcsBranding,
    RcsContact,
    RcsPhone,
    RcsServer,
    RcsUser,
)
from plugtone.redirect.work import RcsWork, rcs_reading, rcs_work
from plugtone.services.errors import Conflict, Invalid, NotFound
from plugtone.services.unit_of_work import unit_of_work
from plugtone.vendors import VendorRegistry

hasher = PasswordHasher()
HELD_ELSEWHERE = "this MAC is registered to another account"
"""The refusal for a MAC another account holds: it never names that account."""
MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_CSV_ROWS = 20_000
MAX_BATCH = 20_000


# -- accounts (plugtone admins)


@dataclass(frozen=True)
class AccountView:
    name: str
    users: int
    phones: int
    created_at: datetime


def add_account(store: Store, actor: RcsActor, name: str) -> AccountView:
    actor.require_admin("adding an account")
    name = validate.account_name(name)
    from plugtone.redirect.work import _store_actor

    with unit_of_work(store, _store_actor(actor)) as work:
        if work.session.scalar(select(RcsAccount.id).where(RcsAccount.name == name)):
            raise Conflict(f"account {name!r} already exists")
        now = datetime.now(UTC)
        account = RcsAccount(name=name, created_at=now)
        work.session.add(account)
        work.session.flush()
        work.session.add(
            RcsAudit(
                account_id=account.id,
                time=now,
                actor=actor.name,
                via=actor.via,
                action="create",
                kind="account",
                key=name,
            )
        )
        return AccountView(name, 0, 0, now)


def list_accounts(store: Store, actor: RcsActor) -> list[AccountView]:
    actor.require_admin("listing accounts")
    with store.sessions() as session:
        users = dict(
            session.execute(
                select(RcsUser.account_id, func.count()).group_by(RcsUser.account_id)
            ).all()
        )
        phones = dict(
            session.execute(
                select(RcsPhone.account_id, func.count()).group_by(RcsPhone.account_id)
            ).all()
        )
        return [
            AccountView(
                row.name, users.get(row.id, 0), phones.get(row.id, 0), _aware(row.created_at)
            )
            for row in session.scalars(select(RcsAccount).order_by(RcsAccount.name))
        ]


# -- users (Super Users)


@dataclass(frozen=True)
class UserView:
    email: str
    role: str
    name: str | None
    address: str | None
    phone1: str | None
    phone2: str | None


def _user_view(user: RcsUser) -> UserView:
    return UserView(user.email, user.role, user.name, user.address, user.phone1, user.phone2)


def _role(text: str) -> str:
    role = (text or "").strip().lower()
    if role not in ROLES:
        raise validate.fail("role", f"{text!r} is not a role (user or super)")
    return role


def add_user(
    store: Store,
    actor: RcsActor,
    email: str,
    role: str,
    password: str,
    account: str | None = None,
    name: str | None = None,
) -> UserView:
    actor.require_super("adding a user")
    email = validate.email(email)
    role = _role(role)
    validate.password(password)
    name = validate.person("name", name, 128)
    with rcs_work(store, actor, account) as work:
        if work.session.scalar(select(RcsUser.id).where(RcsUser.email == email)):
            # the address may be a user of another account: say no more than "taken"
            raise Conflict(f"{email} cannot be added: the address is already in use")
        now = datetime.now(UTC)
        user = RcsUser(
            account_id=work.account.id,
            email=email,
            role=role,
            name=name,
            password_hash=hasher.hash(password),
            created_at=now,
            password_changed_at=now,
        )
        work.session.add(user)
        work.audit("create", "user", email, f"role {role}")
        return _user_view(user)


def list_users(store: Store, actor: RcsActor, account: str | None = None) -> list[UserView]:
    actor.require_super("listing users")
    with rcs_reading(store, actor, account) as work:
        rows = work.session.scalars(
            select(RcsUser).where(RcsUser.account_id == work.account.id).order_by(RcsUser.email)
        )
        return [_user_view(row) for row in rows]


def _account_user(work: RcsWork, email: str) -> RcsUser:
    user = work.session.scalar(
        select(RcsUser).where(
            RcsUser.account_id == work.account.id, RcsUser.email == (email or "").strip().lower()
        )
    )
    if user is None:
        raise NotFound(f"no user {email!r} in this account")
    return user


def _keep_a_super(work: RcsWork, user: RcsUser) -> None:
    supers = work.session.scalar(
        select(func.count())
        .select_from(RcsUser)
        .where(RcsUser.account_id == work.account.id, RcsUser.role == "super")
    )
    if user.role == "super" and supers == 1:
        raise Conflict(f"{user.email} is the account's last Super User; add another first")


def set_user_role(
    store: Store, actor: RcsActor, email: str, role: str, account: str | None = None
) -> UserView:
    actor.require_super("changing a user")
    role = _role(role)
    with rcs_work(store, actor, account) as work:
        user = _account_user(work, email)
        if user.role != role:
            if role == "user":
                _keep_a_super(work, user)
            work.audit("update", "user", user.email, f"role {user.role} -> {role}")
            user.role = role
        return _user_view(user)


def remove_user(store: Store, actor: RcsActor, email: str, account: str | None = None) -> None:
    actor.require_super("deleting a user")
    with rcs_work(store, actor, account) as work:
        user = _account_user(work, email)
        _keep_a_super(work, user)
        work.session.delete(user)
        work.audit("delete", "user", user.email)


def set_preferences(
    store: Store,
    actor: RcsActor,
    name: str | None,
    address: str | None,
    phone1: str | None,
    phone2: str | None,
) -> UserView:
    """One's own name, address and up to two phone numbers (never the user name)."""
    values = (
        validate.person("name", name, 128),
        validate.person("address", address, 255),
        validate.phone_number("phone1", phone1),
        validate.phone_number("phone2", phone2),
    )
    with rcs_work(store, actor, None) as work:
        user = _account_user(work, actor.name)
        user.name, user.address, user.phone1, user.phone2 = values
        work.audit("update", "user", user.email, "preferences")
        return _user_view(user)


def preferences(store: Store, actor: RcsActor) -> UserView:
    with rcs_reading(store, actor, None) as work:
        return _user_view(_account_user(work, actor.name))


# -- configuration servers


@dataclass(frozen=True)
class ServerView:
    name: str
    url: str
    phones: int


def add_server(
    store: Store, actor: RcsActor, name: str, url: str, account: str | None = None
) -> ServerView:
    name, url = validate.server_name(name), validate.server_url(url)
    with rcs_work(store, actor, account) as work:
        if _server(work, name, missing_ok=True) is not None:
            raise Conflict(f"server {name!r} already exists")
        work.session.add(RcsServer(account_id=work.account.id, name=name, url=url))
        work.audit("create", "server", name, url)
        return ServerView(name, url, 0)


def edit_server(
    store: Store,
    actor: RcsActor,
    name: str,
    new_name: str | None = None,
    url: str | None = None,
    account: str | None = None,
) -> ServerView:
    """Rename a server or change its URL: every phone assigned to it moves with it."""
    new_name = validate.server_name(new_name) if new_name else None
    url = validate.server_url(url) if url else None
    with rcs_work(store, actor, account) as work:
        server = _server(work, name)
        if new_name and new_name != server.name:
            if _server(work, new_name, missing_ok=True) is not None:
                raise Conflict(f"server {new_name!r} already exists")
            work.audit("update", "server", server.name, f"renamed {new_name}")
            server.name = new_name
        if url and url != server.url:
            work.audit("update", "server", server.name, f"url {url}")
            server.url = url
        count = work.session.scalar(
            select(func.count()).select_from(RcsPhone).where(RcsPhone.server_id == server.id)
        )
        return ServerView(server.name, server.url, count or 0)


def remove_server(store: Store, actor: RcsActor, name: str, account: str | None = None) -> int:
    """Delete a server; its phones become unaffiliated. Returns how many."""
    with rcs_work(store, actor, account) as work:
        server = _server(work, name)
        phones = work.session.scalars(select(RcsPhone).where(RcsPhone.server_id == server.id)).all()
        for phone in phones:
            phone.server_id = None
        work.session.delete(server)
        work.audit("delete", "server", name, f"{len(phones)} phone(s) now unaffiliated")
        return len(phones)


def list_servers(store: Store, actor: RcsActor, account: str | None = None) -> list[ServerView]:
    with rcs_reading(store, actor, account) as work:
        counts = dict(
            work.session.execute(
                select(RcsPhone.server_id, func.count())
                .where(RcsPhone.account_id == work.account.id)
                .group_by(RcsPhone.server_id)
            ).all()
        )
        rows = work.session.scalars(
            select(RcsServer)
            .where(RcsServer.account_id == work.account.id)
            .order_by(RcsServer.name)
        )
        return [ServerView(row.name, row.url, counts.get(row.id, 0)) for row in rows]


def _server(work: RcsWork, name: str, missing_ok: bool = False) -> RcsServer | None:
    server = work.session.scalar(
        select(RcsServer).where(
            RcsServer.account_id == work.account.id, RcsServer.name == (name or "").strip()
        )
    )
    if server is None and not missing_ok:
        raise NotFound(f"no server {name!r} in this account")
    return server


# -- brandings (Super Users create and edit; Users assign them)


@dataclass(frozen=True)
class BrandingView:
    name: str
    settings: dict[str, dict[str, str]]


def save_branding(
    store: Store,
    actor: RcsActor,
    registry: VendorRegistry,
    name: str,
    settings: dict[str, dict[str, str]],
    account: str | None = None,
) -> BrandingView:
    """Create or replace a branding: raw settings by vendor, checked by each plug-in."""
    actor.require_super("creating or editing a branding")
    name = (name or "").strip()
    if not validate.ACCOUNT.match(name):
        raise validate.fail(
            "name", f"{name!r} is not a branding name (1 to 64 letters, digits, spaces, _.-)"
        )
    clean: dict[str, dict[str, str]] = {}
    for vendor, values in (settings or {}).items():
        plugin = registry.by_name.get(vendor)
        if plugin is None:
            raise validate.fail("settings", f"no vendor {vendor!r}")
        values = {str(k).strip(): str(v) for k, v in values.items() if str(k).strip()}
        problems = plugin.validate_settings(values)
        if problems:
            raise validate.fail("settings", f"{vendor}: " + "; ".join(problems))
        clean[vendor] = values
    with rcs_work(store, actor, account) as work:
        row = _branding(work, name, missing_ok=True)
        if row is None:
            work.session.add(RcsBranding(account_id=work.account.id, name=name, settings=clean))
            work.audit("create", "branding", name)
        else:
            row.settings = clean
            work.audit("update", "branding", name)
        return BrandingView(name, clean)


def remove_branding(store: Store, actor: RcsActor, name: str, account: str | None = None) -> None:
    actor.require_super("deleting a branding")
    with rcs_work(store, actor, account) as work:
        work.session.delete(_branding(work, name))
        work.audit("delete", "branding", name)


def list_brandings(store: Store, actor: RcsActor, account: str | None = None) -> list[BrandingView]:
    with rcs_reading(store, actor, account) as work:
        rows = work.session.scalars(
            select(RcsBranding)
            .where(RcsBranding.account_id == work.account.id)
            .order_by(RcsBranding.name)
        )
        return [BrandingView(row.name, dict(row.settings or {})) for row in rows]


def _branding(work: RcsWork, name: str, missing_ok: bool = False) -> RcsBranding | None:
    row = work.session.scalar(
        select(RcsBranding).where(
            RcsBranding.account_id == work.account.id, RcsBranding.name == (name or "").strip()
        )
    )
    if row is None and not missing_ok:
        raise NotFound(f"no branding {name!r} in this account")
    return row


# -- phones


@dataclass(frozen=True)
class PhoneView:
    mac: str
    server: str | None
    firmware: str | None
    branding: str | None
    last_contact: datetime | None
    redirected_at: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What became of one MAC (or CSV row) of a bulk call."""

    row: int
    mac: str
    """As given (a bad one cannot be normalised)."""
    outcome: str
    """``added``, ``updated``, ``unchanged``, ``deleted``, or ``refused``."""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome != "refused"


@dataclass(frozen=True)
class Assignment:
    """What a batch of phones is given; ``None`` leaves a field as it is (for a new
    phone: unset), ``""`` clears it."""

    server: str | None = None
    firmware: str | None = None
    branding: str | None = None


@dataclass(frozen=True)
class Row:
    mac: str
    assignment: Assignment
    claim: str | None = None


def claim_digest(code: str | None) -> str | None:
    code = (code or "").strip()
    return hashlib.sha256(b"plugtone rcs claim\x00" + code.encode()).hexdigest() if code else None


def register_phones(
    store: Store,
    actor: RcsActor,
    rows: Sequence[Row],
    *,
    account: str | None = None,
    good_rows: bool = False,
    update: bool = True,
    dry_run: bool = False,
) -> list[Outcome]:
    """Register (or, with ``update``, re-assign) each row's MAC in the account.

    A refused row (bad MAC, unknown server or branding, bad firmware, a MAC another
    account holds) is reported with its reason; with ``good_rows`` the others are still
    written, else nothing is (the CSV import's none-or-all default elsewhere in
    plugtone). Idempotent: the same call again reports ``unchanged``.
    """
    if len(rows) > MAX_BATCH:
        raise validate.fail("macs", f"at most {MAX_BATCH} phones at once; {len(rows)} given")
    outcomes: list[Outcome] = []
    with rcs_work(store, actor, account) as work:
        servers, brandings = _names(work)
        versions = _versions(work)
        macs = []
        for row in rows:
            try:
                macs.append(validate.mac(row.mac))
            except Invalid:
                macs.append(None)
        known = {
            phone.mac: phone
            for start in range(0, len(macs), 500)
            for phone in work.session.scalars(
                select(RcsPhone).where(
                    RcsPhone.mac.in_([m for m in macs[start : start + 500] if m])
                )
            )
        }
        seen: set[str] = set()
        now = datetime.now(UTC)
        for number, (row, mac) in enumerate(zip(rows, macs, strict=True), start=1):
            outcome = _register_one(
                work, number, row, mac, known, seen, servers, brandings, now, update, versions
            )
            outcomes.append(outcome)
        if dry_run or (not good_rows and any(not outcome.ok for outcome in outcomes)):
            work.session.rollback()
            work.audits.clear()
            return outcomes
    return outcomes


def _firmware(given: str | None, versions: set[str]) -> str | None:
    """``None`` leaves the firmware as it is, ``""`` clears it ("None", as the seed's
    Firmware field says); any other version must be a release plugtone holds (the
    vendor's service lists only the releases it stores)."""
    if given is None:
        return None
    if not given.strip() or given.strip().lower() == "none":
        return ""
    version = validate.firmware(given)
    if version not in versions:
        raise NotFound(f"no firmware release {version!r} is stored (plugtone firmware add)")
    return version


def _versions(work: RcsWork) -> set[str]:
    return set(work.session.scalars(select(FirmwareRelease.version)))


def _names(work: RcsWork) -> tuple[dict[str, int], dict[str, int]]:
    servers = dict(
        work.session.execute(
            select(RcsServer.name, RcsServer.id).where(RcsServer.account_id == work.account.id)
        ).all()
    )
    brandings = dict(
        work.session.execute(
            select(RcsBranding.name, RcsBranding.id).where(
                RcsBranding.account_id == work.account.id
            )
        ).all()
    )
    return servers, brandings


def _register_one(
    work: RcsWork,
    number: int,
    row: Row,
    mac: str | None,
    known: dict[str, RcsPhone],
    seen: set[str],
    servers: dict[str, int],
    brandings: dict[str, int],
    now: datetime,
    update: bool,
    versions: set[str] = frozenset(),
) -> Outcome:
    given = (row.mac or "").strip()
    if mac is None:
        return Outcome(number, given, "refused", validate.BAD_MAC)
    if mac in seen:
        return Outcome(number, mac, "refused", "this MAC is given twice")
    seen.add(mac)
    wanted = row.assignment
    try:
        server_id = _pick(servers, wanted.server, "server")
        branding_id = _pick(brandings, wanted.branding, "branding")
        firmware = _firmware(wanted.firmware, versions)
    except (NotFound, Invalid) as error:
        return Outcome(number, mac, "refused", error.message)
    phone = known.get(mac)
    if phone is not None and phone.account_id != work.account.id:
        claim = claim_digest(row.claim)
        if phone.claim_sha256 is None or claim != phone.claim_sha256:
            return Outcome(number, mac, "refused", HELD_ELSEWHERE)
        # the claim code proves ownership: the MAC moves to this account, assignments reset
        work.session.add(
            RcsAudit(
                account_id=phone.account_id,
                time=now,
                actor=work.actor.name,
                via=work.actor.via,
                action="delete",
                kind="phone",
                key=mac,
                summary="claimed by another account with its claim code",
            )
        )
        phone.account_id = work.account.id
        phone.server_id = phone.branding_id = phone.firmware = None
        phone.redirected_at = phone.last_contact = None
        _assign(phone, server_id, branding_id, firmware)
        work.audit(
            "create", "phone", mac, "claimed with its claim code" + _describe(phone, servers)
        )
        return Outcome(number, mac, "added", "claimed with its claim code")
    if phone is None:
        phone = RcsPhone(
            mac=mac,
            account_id=work.account.id,
            created_at=now,
            claim_sha256=claim_digest(row.claim),
        )
        _assign(phone, server_id, branding_id, firmware)
        work.session.add(phone)
        work.audit("create", "phone", mac, _describe(phone, servers).lstrip("; ") or None)
        return Outcome(number, mac, "added")
    if not update:
        return Outcome(number, mac, "refused", "this MAC is already registered to this account")
    before = (phone.server_id, phone.branding_id, phone.firmware)
    _assign(phone, server_id, branding_id, firmware)
    if row.claim:
        phone.claim_sha256 = claim_digest(row.claim)
    if (phone.server_id, phone.branding_id, phone.firmware) == before:
        return Outcome(number, mac, "unchanged")
    action = "move" if phone.server_id != before[0] else "update"
    work.audit(action, "phone", mac, _describe(phone, servers).lstrip("; "))
    return Outcome(number, mac, "updated")


def _pick(ids: dict[str, int], name: str | None, what: str) -> int | bool | None:
    """The id named; ``False`` for "leave as is" (None), ``None`` for "clear" ("")."""
    if name is None:
        return False
    if not name.strip() or name.strip().lower() == "none":
        return None
    found = ids.get(name.strip())
    if found is None:
        raise NotFound(f"no {what} {name.strip()!r} in this account")
    return found


def _assign(phone: RcsPhone, server_id, branding_id, firmware) -> None:
    if server_id is not False:
        phone.server_id = server_id
    if branding_id is not False:
        phone.branding_id = branding_id
    if firmware is not None:
        phone.firmware = firmware or None


def _describe(phone: RcsPhone, servers: dict[str, int]) -> str:
    names = {value: key for key, value in servers.items()}
    parts = [f"server {names.get(phone.server_id, '(none)')}"]
    if phone.firmware:
        parts.append(f"firmware {phone.firmware}")
    return "; " + ", ".join(parts)


def delete_phones(
    store: Store, actor: RcsActor, macs: Iterable[str], account: str | None = None
) -> list[Outcome]:
    """Delete MACs of the account; a MAC the account does not hold is "not
    registered", whoever holds it."""
    outcomes = []
    with rcs_work(store, actor, account) as work:
        for number, given in enumerate(macs, start=1):
            try:
                mac = validate.mac(given)
            except Invalid:
                outcomes.append(Outcome(number, given, "refused", validate.BAD_MAC))
                continue
            phone = work.session.scalar(
                select(RcsPhone).where(RcsPhone.mac == mac, RcsPhone.account_id == work.account.id)
            )
            if phone is None:
                outcomes.append(Outcome(number, mac, "refused", "not registered to this account"))
                continue
            work.session.delete(phone)
            work.audit("delete", "phone", mac)
            outcomes.append(Outcome(number, mac, "deleted"))
    return outcomes


def list_phones(
    store: Store,
    actor: RcsActor,
    account: str | None = None,
    *,
    unaffiliated: bool = False,
    after: str | None = None,
    limit: int = 500,
) -> list[PhoneView]:
    """The account's phones by MAC, ``limit`` at a time after the MAC ``after``."""
    with rcs_reading(store, actor, account) as work:
        query = (
            select(RcsPhone, RcsServer.name, RcsBranding.name)
            .outerjoin(RcsServer, RcsServer.id == RcsPhone.server_id)
            .outerjoin(RcsBranding, RcsBranding.id == RcsPhone.branding_id)
            .where(RcsPhone.account_id == work.account.id)
            .order_by(RcsPhone.mac)
            .limit(max(1, min(limit, 5000)))
        )
        if unaffiliated:
            query = query.where(RcsPhone.server_id.is_(None))
        if after:
            query = query.where(RcsPhone.mac > after)
        return [
            PhoneView(
                phone.mac,
                server,
                phone.firmware,
                branding,
                _aware(phone.last_contact),
                _aware(phone.redirected_at),
            )
            for phone, server, branding in work.session.execute(query)
        ]


def get_phone(store: Store, actor: RcsActor, mac: str, account: str | None = None) -> PhoneView:
    mac = validate.mac(mac)
    found = [
        p for p in list_phones(store, actor, account, after=_before(mac), limit=1) if p.mac == mac
    ]
    if not found:
        raise NotFound(f"{mac} is not registered to this account")
    return found[0]


def _before(mac: str) -> str:
    return f"{int(mac, 16) - 1:012X}" if int(mac, 16) else ""


# -- CSV import


def parse_csv(
    content: bytes, assignment: Assignment
) -> tuple[list[tuple[int, Row]], list[Outcome]]:
    """Rows of a CSV upload, each with its line number: first column MAC, then optional
    server, firmware, branding (per row, over the batch's ``assignment``). A header row
    naming ``mac`` is skipped; a row that cannot be read is reported, and a file that is
    not UTF-8 CSV text is refused whole."""
    if len(content) > MAX_CSV_BYTES:
        raise validate.fail("file", f"a CSV file has at most {MAX_CSV_BYTES // 1024**2} MiB")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise validate.fail("file", "the file is not UTF-8 text (save it as CSV)") from None
    if "\x00" in text:
        raise validate.fail("file", "the file is not a CSV text file")
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as error:
        raise validate.fail("file", f"the file is not valid CSV: {error}") from None
    if len(records) > MAX_CSV_ROWS:
        raise validate.fail("file", f"at most {MAX_CSV_ROWS} rows; the file has {len(records)}")
    rows: list[tuple[int, Row]] = []
    problems: list[Outcome] = []
    for number, record in enumerate(records, start=1):
        cells = [cell.strip() for cell in record]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower().replace(" ", "") in ("mac", "macaddress"):
            continue
        if len(cells) > 4:
            problems.append(
                Outcome(
                    number,
                    cells[0],
                    "refused",
                    f"{len(cells)} columns; at most 4 (MAC, server, firmware, "
                    "branding): check for extra commas",
                )
            )
            continue
        cells += [""] * (4 - len(cells))
        rows.append(
            (
                number,
                Row(
                    cells[0],
                    Assignment(
                        server=cells[1] or assignment.server,
                        firmware=cells[2] or assignment.firmware,
                        branding=cells[3] or assignment.branding,
                    ),
                ),
            )
        )
    return rows, problems


def import_csv(
    store: Store,
    actor: RcsActor,
    content: bytes,
    assignment: Assignment,
    *,
    account: str | None = None,
    good_rows: bool = False,
) -> list[Outcome]:
    """Register the phones of a CSV file; an outcome per row, numbered as in the file.

    None-or-all by default (as ``plugtone import`` is): one bad row and nothing is
    written, every row still checked and reported; ``good_rows`` writes the good ones."""
    numbered, problems = parse_csv(content, assignment)
    if not numbered and not problems:
        raise validate.fail("file", "the file holds no MAC")
    rows = [row for _, row in numbered]
    hold = bool(problems) and not good_rows  # a bad line: check every row, write none
    outcomes = register_phones(
        store, actor, rows, account=account, good_rows=good_rows, dry_run=hold
    )
    report = [_renumber(o, n) for o, (n, _) in zip(outcomes, numbered, strict=True)]
    if not good_rows and (problems or any(not o.ok for o in report)):
        _refuse_all(report)
    return sorted(report + problems, key=lambda o: o.row)


def _renumber(outcome: Outcome, number: int) -> Outcome:
    return Outcome(number, outcome.mac, outcome.outcome, outcome.message)


def _refuse_all(report: list[Outcome]) -> None:
    """In a none-or-all import with a bad row, good rows say they were not written."""
    for index, outcome in enumerate(report):
        if outcome.ok:
            report[index] = Outcome(
                outcome.row, outcome.mac, "skipped", "not written: another row was refused"
            )


# -- statistics and audit


@dataclass(frozen=True)
class ServerStats:
    name: str
    phones: int
    redirected: int
    contacts_day: int


@dataclass(frozen=True)
class Stats:
    account: str
    registered: int
    redirected: int
    unaffiliated: int
    contacts_day: int
    contacts_week: int
    servers: tuple[ServerStats, ...]


def stats(store: Store, actor: RcsActor, account: str | None = None) -> Stats:
    """The Summary page's figures: phones registered, redirected (given their server at
    least once), unaffiliated (no server); phones in contact in the last day and week;
    the same per server."""
    now = datetime.now(UTC)
    day, week = now - timedelta(days=1), now - timedelta(days=7)
    with rcs_reading(store, actor, account) as work:
        session, account_id = work.session, work.account.id
        mine = RcsPhone.account_id == account_id
        registered = _count(session, select(func.count()).select_from(RcsPhone).where(mine))
        redirected = _count(
            session,
            select(func.count())
            .select_from(RcsPhone)
            .where(mine, RcsPhone.redirected_at.is_not(None)),
        )
        unaffiliated = _count(
            session,
            select(func.count()).select_from(RcsPhone).where(mine, RcsPhone.server_id.is_(None)),
        )
        in_contact = select(func.count(func.distinct(RcsContact.mac))).where(
            RcsContact.account_id == account_id
        )
        contacts_day = _count(session, in_contact.where(RcsContact.at >= day))
        contacts_week = _count(session, in_contact.where(RcsContact.at >= week))
        per_server = []
        for server in session.scalars(
            select(RcsServer).where(RcsServer.account_id == account_id).order_by(RcsServer.name)
        ):
            on = RcsPhone.server_id == server.id
            per_server.append(
                ServerStats(
                    server.name,
                    _count(session, select(func.count()).select_from(RcsPhone).where(on)),
                    _count(
                        session,
                        select(func.count())
                        .select_from(RcsPhone)
                        .where(on, RcsPhone.redirected_at.is_not(None)),
                    ),
                    _count(
                        session,
                        select(func.count(func.distinct(RcsContact.mac))).where(
                            RcsContact.server_id == server.id, RcsContact.at >= day
                        ),
                    ),
                )
            )
        return Stats(
            work.account.name,
            registered,
            redirected,
            unaffiliated,
            contacts_day,
            contacts_week,
            tuple(per_server),
        )


def _count(session: Session, query) -> int:
    return int(session.scalar(query) or 0)


@dataclass(frozen=True)
class AuditView:
    time: datetime
    actor: str
    via: str
    action: str
    kind: str
    key: str
    summary: str | None


def audit_log(
    store: Store,
    actor: RcsActor,
    account: str | None = None,
    mac: str | None = None,
    limit: int = 200,
) -> list[AuditView]:
    with rcs_reading(store, actor, account) as work:
        query = (
            select(RcsAudit)
            .where(RcsAudit.account_id == work.account.id)
            .order_by(RcsAudit.id.desc())
            .limit(max(1, min(limit, 1000)))
        )
        if mac:
            query = query.where(RcsAudit.kind == "phone", RcsAudit.key == validate.mac(mac))
        return [
            AuditView(_aware(r.time), r.actor, r.via, r.action, r.kind, r.key, r.summary)
            for r in work.session.scalars(query)
        ]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
