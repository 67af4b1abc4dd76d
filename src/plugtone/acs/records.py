"""What the ACS reads and writes in the store, one short transaction per step.

Plain functions over a :class:`~plugtone.inventory.store.Store`: the CWMP endpoint and
the session conductor call them between messages (never holding a transaction open
while waiting for a CPE), and the task service shares them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from plugtone.acs.models import AcsDevice, AcsParameterTree, AcsTask, AcsTransfer, AcsUpload
from plugtone.inventory.models import DeviceFirmware, DeviceState, Phone, Site
from plugtone.inventory.store import Store, read_generation
from plugtone.provisioning.views import load_phone
from plugtone.vendors.base import PhoneView

TRANSFER_LIFETIME = timedelta(hours=1)
"""How long a one-time transfer URL stays valid (and a transfer may stay unreported)."""


def now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class DeviceRecord:
    """What a session needs to know of a device, read once at its Inform."""

    id: int
    oui: str
    serial: str
    product_class: str | None
    software_version: str | None
    mac: str | None
    first_contact: bool
    applied_generation: int | None
    applied_secrets: dict
    username: str | None
    password: str | None


@dataclass(frozen=True)
class Login:
    """Credentials an ``Authorization`` username may be checked against."""

    kind: str  # "device" | "bootstrap"
    password: str
    device_id: int | None = None
    site_id: int | None = None
    allow_basic: bool = False


def logins_for(store: Store, username: str) -> list[Login]:
    """Every password ``username`` may be (a device's own, or sites' bootstrap login)."""
    found: list[Login] = []
    with store.sessions() as session:
        row = session.execute(
            select(AcsDevice.id, AcsDevice.password).where(AcsDevice.username == username)
        ).first()
        if row is not None and row.password:
            found.append(Login("device", row.password, device_id=row.id))
        for site_id, settings, password in session.execute(
            select(Site.id, Site.tr069, Site.tr069_password).where(Site.tr069.is_not(None))
        ):
            if (
                settings.get("enabled")
                and settings.get("bootstrap_username") == username
                and password
            ):
                found.append(
                    Login("bootstrap", password, site_id=site_id,
                          allow_basic=bool(settings.get("allow_basic")))
                )  # fmt: skip
    return found


def inform(
    store: Store, *, oui: str, serial: str, product_class: str, manufacturer: str,
    software_version: str | None, connection_request_url: str | None, mac: str | None,
    events: list[str], parameter_key: str | None, address: str | None,
) -> DeviceRecord:  # fmt: skip
    """Record an Inform: the device (created on first contact), what it reported, the
    firmware it runs (for the firmware state) and, once its MAC is known, its
    device-state row (unassigned devices show up there)."""
    at = now()
    with store.sessions() as session:
        device = session.scalar(
            select(AcsDevice).where(AcsDevice.oui == oui, AcsDevice.serial == serial)
        )
        first = device is None
        if device is None:
            device = AcsDevice(oui=oui[:6], serial=serial[:64], first_seen=at)
            session.add(device)
        if "0 BOOTSTRAP" in events:
            # A factory-fresh device: whatever we set before is gone.
            device.applied_generation = None
            device.applied_secrets = {}
            device.username = device.password = None
        device.product_class = product_class[:64] or None
        device.manufacturer = manufacturer[:64] or None
        device.software_version = (software_version or "")[:64] or None
        if connection_request_url:
            device.connection_request_url = connection_request_url[:255]
        if mac and device.mac != mac:
            _release_mac(session, mac, device)
            device.mac = mac
        device.last_inform = at
        device.last_events = ",".join(events)[:255]
        device.parameter_key = (parameter_key or "")[:32] or None
        session.flush()
        record = _record(device, first)
        if mac:
            _seen(session, mac, product_class, software_version, address)
        session.commit()
    return record


def _release_mac(session, mac: str, device: AcsDevice) -> None:
    """A MAC moved to another CPE (a replaced board keeps its label): the old row lets go."""
    session.execute(
        update(AcsDevice).where(AcsDevice.mac == mac, AcsDevice.id != device.id).values(mac=None)
    )
    session.flush()


def _record(device: AcsDevice, first: bool) -> DeviceRecord:
    return DeviceRecord(
        id=device.id, oui=device.oui, serial=device.serial, product_class=device.product_class,
        software_version=device.software_version, mac=device.mac, first_contact=first,
        applied_generation=device.applied_generation,
        applied_secrets=dict(device.applied_secrets or {}), username=device.username,
        password=device.password,
    )  # fmt: skip


def set_mac(store: Store, device_id: int, mac: str, address: str | None) -> None:
    with store.sessions() as session:
        device = session.get(AcsDevice, device_id)
        assert device is not None
        if device.mac != mac:
            _release_mac(session, mac, device)
            device.mac = mac
        _seen(session, mac, device.product_class, device.software_version, address)
        session.commit()


def seen(
    store: Store, mac: str, model: str | None, version: str | None, address: str | None
) -> None:
    """The device-state row of ``mac`` (as the file transports keep it) and the firmware
    version it reports, which the firmware state and the file transports read."""
    with store.sessions() as session:
        _seen(session, mac, model, version, address)
        session.commit()


def _seen(session, mac: str, model: str | None, version: str | None, address: str | None) -> None:
    """The device-state row inside the caller's transaction."""
    at = now()
    state = session.get(DeviceState, mac)
    vendor = session.scalar(select(Phone.vendor).where(Phone.mac == mac))
    if state is None:
        state = DeviceState(mac=mac, first_seen=at, last_seen=at, requests=0)
        session.add(state)
    state.vendor = vendor or state.vendor
    state.model = (model or "")[:64] or state.model
    state.firmware_version = (version or "")[:64] or state.firmware_version
    state.last_address = address or state.last_address
    state.last_user_agent = f"CWMP {model or ''} {version or ''}".strip()[:255]
    state.last_seen = at
    state.requests = (state.requests or 0) + 1
    if version:
        firmware = session.get(DeviceFirmware, mac)
        if firmware is None:
            firmware = DeviceFirmware(mac=mac, attempts=0)
            session.add(firmware)
        firmware.running_version = version[:64]
        firmware.running_seen_at = at


def phone_view(store: Store, mac: str) -> tuple[PhoneView | None, int]:
    """The inventory's view of ``mac`` and the generation it was read at."""
    with store.sessions() as session:
        return load_phone(session, mac), read_generation(session)


def cached_tree(store: Store, product_class: str, version: str) -> dict | None:
    with store.sessions() as session:
        return session.scalar(
            select(AcsParameterTree.names).where(
                AcsParameterTree.product_class == product_class,
                AcsParameterTree.software_version == version,
            )
        )


def save_tree(store: Store, product_class: str, version: str, names: dict) -> None:
    with store.sessions() as session:
        tree = session.scalar(
            select(AcsParameterTree).where(
                AcsParameterTree.product_class == product_class,
                AcsParameterTree.software_version == version,
            )
        )
        if tree is None:
            tree = AcsParameterTree(product_class=product_class, software_version=version)
            session.add(tree)
        tree.names = names
        tree.discovered_at = now()
        try:
            session.commit()
        except IntegrityError:  # another device of that model and firmware got there first
            session.rollback()


def applied(
    store: Store, device_id: int, generation: int, secret_digests: dict,
    login: tuple[str, str] | None, connection: tuple[str, str] | None,
) -> None:  # fmt: skip
    """The device now holds ``generation``'s values (and, when given, its own login)."""
    with store.sessions() as session:
        device = session.get(AcsDevice, device_id)
        assert device is not None
        device.applied_generation = generation
        device.applied_secrets = {**(device.applied_secrets or {}), **secret_digests}
        if login is not None:
            device.username, device.password = login
        if connection is not None:
            device.connection_username, device.connection_password = connection
        device.last_error = None
        session.commit()


def device_error(store: Store, device_id: int, message: str) -> None:
    with store.sessions() as session:
        device = session.get(AcsDevice, device_id)
        if device is not None:
            device.last_error = message[:255]
            session.commit()


def new_device_login(mac: str | None, device_id: int) -> tuple[str, str]:
    """A device's own ACS login: a name that says whose it is, 24 random characters."""
    name = f"cpe-{(mac or str(device_id)).lower()}"
    return name, secrets.token_urlsafe(18)


def digest(value: object) -> str:
    return hashlib.sha256(str(value).encode()).hexdigest()


# -- transfers


def new_transfer(store: Store, task_id: int, direction: str, source: str | None) -> str:
    """A one-time URL token for ``task_id`` (only its SHA-256 is stored)."""
    token = secrets.token_urlsafe(24)
    with store.sessions() as session:
        session.add(
            AcsTransfer(
                token_sha256=digest(token), task_id=task_id, direction=direction,
                source=source, expires_at=now() + TRANSFER_LIFETIME, used=False,
            )
        )  # fmt: skip
        session.commit()
    return token


def claim_transfer(store: Store, token: str, direction: str) -> tuple[int, str | None] | None:
    """``(task id, source)`` of an unused, unexpired transfer, now used; else ``None``."""
    with store.sessions() as session:
        transfer = session.get(AcsTransfer, digest(token), with_for_update=True)
        if (
            transfer is None
            or transfer.used
            or transfer.direction != direction
            or _aware(transfer.expires_at) < now()
        ):
            return None
        transfer.used = True
        session.commit()
        return transfer.task_id, transfer.source


def store_upload(store: Store, task_id: int, content: bytes) -> int:
    import base64

    with store.sessions() as session:
        task = session.get(AcsTask, task_id)
        assert task is not None
        kind = "backup" if task.kind == "backup" else "log"
        upload = AcsUpload(
            device_id=task.device_id, task_id=task_id, kind=kind, size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            content=base64.b64encode(content).decode("ascii"), received_at=now(),
        )  # fmt: skip
        session.add(upload)
        session.commit()
        return upload.id


def upload_content(store: Store, upload_id: int) -> bytes | None:
    import base64

    with store.sessions() as session:
        content = session.scalar(select(AcsUpload.content).where(AcsUpload.id == upload_id))
    return None if content is None else base64.b64decode(content)


def learn_udp_address(store: Store, stun_username: str, address: str) -> None:
    """A STUN binding of the device whose STUNUsername (its connection-request user,
    ``cr-<mac>``) is ``stun_username``: where its UDP connection requests go."""
    mac = stun_username.removeprefix("cr-").upper()
    with store.sessions() as session:
        device = session.scalar(select(AcsDevice).where(AcsDevice.mac == mac)) or session.scalar(
            select(AcsDevice).where(AcsDevice.connection_username == stun_username).limit(1)
        )
        if device is not None and device.udp_address != address[:64]:
            device.udp_address = address[:64]
            session.commit()


def forget_applied(store: Store, device_id: int) -> None:
    """Set everything again at the next convergence (after a refresh)."""
    with store.sessions() as session:
        device = session.get(AcsDevice, device_id)
        if device is not None:
            device.applied_generation = None
            device.applied_secrets = {}
            session.commit()


def download_source(
    store: Store, device: DeviceRecord, kind: str, arguments: dict
) -> tuple[str, int, str] | str:
    """``(source, size, file name)`` a Download task sends, or why there is none."""
    if kind == "firmware":
        if device.mac is None:
            return "the device's MAC is not known"
        from plugtone.firmware.targets import phone_target

        with store.sessions() as session:
            phone = session.scalar(select(Phone).where(Phone.mac == device.mac))
            if phone is None:
                return "the device is not a phone of the inventory"
            _, release = phone_target(session, phone)
        if release is None or not release.files:
            return "no firmware release is pinned for this phone (plugtone firmware pin)"
        image = max(release.files, key=lambda file: file.size)
        return f"firmware:{image.sha256}", image.size, image.name
    with store.sessions() as session:
        query = select(AcsUpload).where(
            AcsUpload.device_id == device.id, AcsUpload.kind == "backup"
        )
        if arguments.get("upload"):
            query = query.where(AcsUpload.id == int(arguments["upload"]))
        upload = session.scalar(query.order_by(AcsUpload.id.desc()).limit(1))
        if upload is None:
            return "no stored backup of this device to restore (run a backup task first)"
        return f"upload:{upload.id}", upload.size, "config.cfg"
