"""Pushed resync: tell phones to fetch their files now instead of at their next poll.

Each targeted phone gets the SIP NOTIFY its vendor plug-in declares
(:attr:`~plugtone.vendors.base.VendorPlugin.resync_notify`) at the address plugtone
last saw it at (``device_states.last_address``) and its SIP port (5060 unless told),
over UDP, retransmitted per RFC 3261 until the phone answers or timer F (32 s) runs
out. Every phone's outcome (the response code, ``timeout``, ``no address``...) is a
provisioning event (transport ``sip``), with who asked for it; the request carries no
credential, so no event or message can hold one.

Phones are reached at most ``rate`` new ones a second: a site's or the whole fleet's
resync is then a trickle of NOTIFYs, and the phones' fetches that follow a trickle of
boots, instead of a storm on the provisioning servers. TR-069 phones are not here:
their connection requests belong to the ACS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from plugtone.inventory.document import Problem
from plugtone.inventory.models import DeviceState, Extension, LineAssignment, Phone, Site
from plugtone.inventory.store import Store
from plugtone.macaddr import colon_mac
from plugtone.protocols.sip_notify import NotifyRequest, NotifyTransaction, Timers
from plugtone.provisioning.events import Event, EventRecorder
from plugtone.services.actors import Actor, Role, require
from plugtone.services.errors import Invalid, NotFound
from plugtone.services.objects import phone_mac
from plugtone.services.unit_of_work import reading
from plugtone.vendors import VendorRegistry

DEFAULT_RATE = 20.0
"""Phones a second a resync starts at most, unless told otherwise."""
MAX_RATE = 1_000.0
SIP_PORT = 5060
TRANSPORT = "sip"
"""The provisioning events' transport for resync outcomes."""
NO_ADDRESS = "no address"
NO_EVENT = "no event"
NO_LINE = "no line"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Target:
    """A phone to resync, as the inventory and its device state know it."""

    mac: str
    vendor: str
    site: str
    user: str | None
    """Its first line's SIP user (auth user, else number): the Request-URI's user."""
    address: str | None
    """Where plugtone last saw it (``device_states.last_address``)."""


@dataclass(frozen=True)
class Outcome:
    """What became of one phone's NOTIFY."""

    mac: str
    vendor: str
    site: str
    address: str | None
    status: str
    """The final response's code (``200``, ``481``, ``489``...), ``timeout``, or why
    nothing was sent (``no address``, ``no line``, ``no event``, ``unreachable``)."""
    reason: str = ""
    """The response's reason phrase, or what the status means."""
    sent: int = 0
    """Times the request went out (first send and retransmissions)."""
    seconds: float = 0.0
    """From the first send to the outcome."""

    @property
    def ok(self) -> bool:
        return self.status.isdigit() and self.status.startswith("2")


def select_targets(
    store: Store,
    actor: Actor,
    *,
    macs: Sequence[str] = (),
    site: str | None = None,
    everything: bool = False,
) -> list[Target]:
    """The phones named (MACs in any notation), of ``site``, or all; exactly one way.

    Unknown MACs or an unknown site refuse the whole call before anything is sent.
    """
    require(actor, Role.OPERATOR, "resyncing phones")
    ways = sum((bool(macs), site is not None, everything))
    if ways != 1:
        message = "name phones by MAC, or a site, or all of them; one way"
        raise Invalid([Problem("target", message)], message)
    wanted = sorted({phone_mac(text) for text in macs})
    with reading(store, actor) as session:
        query = select(Phone.id, Phone.mac, Phone.vendor, Site.name).join(Site)
        if wanted:
            query = query.where(Phone.mac.in_(wanted))
        elif site is not None:
            if session.scalar(select(Site.id).where(Site.name == site)) is None:
                raise NotFound(f"site {site} does not exist")
            query = query.where(Site.name == site)
        rows = session.execute(query.order_by(Phone.mac)).all()
        missing = sorted(set(wanted) - {row.mac for row in rows})
        if missing:
            names = ", ".join(colon_mac(mac) for mac in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise NotFound(f"not in the inventory: phone {names}{more}")
        users = _first_line_users(session, [row.id for row in rows])
        addresses = _last_addresses(session, [row.mac for row in rows])
    return [
        Target(row.mac, row.vendor, row.name, users.get(row.id), addresses.get(row.mac))
        for row in rows
    ]


def _first_line_users(session, phone_ids: list[int]) -> dict[int, str]:
    users: dict[int, str] = {}
    for start in range(0, len(phone_ids), 5_000):
        chunk = phone_ids[start : start + 5_000]
        query = (
            select(LineAssignment.phone_id, Extension.auth_user, Extension.number)
            .join(Extension, LineAssignment.extension_id == Extension.id)
            .where(LineAssignment.phone_id.in_(chunk))
            .order_by(LineAssignment.phone_id, LineAssignment.index)
        )
        for phone_id, auth_user, number in session.execute(query):
            users.setdefault(phone_id, auth_user or number)
    return users


def _last_addresses(session, macs: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(macs), 5_000):
        query = select(DeviceState.mac, DeviceState.last_address).where(
            DeviceState.mac.in_(macs[start : start + 5_000])
        )
        found.update({mac: address for mac, address in session.execute(query) if address})
    return found


def resync(
    store: Store,
    actor: Actor,
    registry: VendorRegistry,
    targets: Sequence[Target],
    *,
    rate: float = DEFAULT_RATE,
    sip_port: int = SIP_PORT,
    timers: Timers | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Send each target its vendor's NOTIFY, record each outcome as an event, and
    return the outcomes in the targets' order. Blocks until the last phone answers or
    times out; ``progress`` is called as each outcome is known (from this thread)."""
    require(actor, Role.OPERATOR, "resyncing phones")
    if not 0 < rate <= MAX_RATE:
        raise Invalid([Problem("rate", f"phones a second: above 0, at most {MAX_RATE:g}")])
    if not 0 < sip_port < 65_536:
        raise Invalid([Problem("sip_port", "a UDP port, 1 to 65535")])
    outcomes = asyncio.run(
        _run(registry, targets, rate=rate, sip_port=sip_port, timers=timers or Timers(),
             progress=progress)
    )  # fmt: skip
    _record(store, actor, outcomes, sip_port)
    return outcomes


async def _run(registry, targets, *, rate, sip_port, timers, progress) -> list[Outcome]:
    from plugtone.servers.notify import NotifySender, local_address_towards

    loop = asyncio.get_running_loop()
    results: list[Outcome | None] = [None] * len(targets)

    def done(index: int, outcome: Outcome) -> None:
        results[index] = outcome
        if progress is not None:
            progress(outcome)

    async with NotifySender(timers) as sender:
        tasks = []
        started = loop.time()
        sent = 0
        for index, target in enumerate(targets):
            skipped = _why_not(registry, target)
            if skipped is not None:
                done(index, skipped)
                continue
            # at most `rate` a second: the n-th NOTIFY waits until n / rate
            wait = started + sent / rate - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            sent += 1
            tasks.append(asyncio.create_task(_one(sender, registry, target, sip_port, index,
                                                  done, local_address_towards)))  # fmt: skip
        if tasks:
            await asyncio.gather(*tasks)
    return [outcome for outcome in results if outcome is not None]


def _why_not(registry: VendorRegistry, target: Target) -> Outcome | None:
    plugin = registry.by_name.get(target.vendor)
    notify = plugin.resync_notify if plugin is not None else None
    base = (target.mac, target.vendor, target.site, target.address)
    if notify is None:
        return Outcome(*base, NO_EVENT, "its vendor declares no resync NOTIFY")
    if not target.address:
        return Outcome(*base, NO_ADDRESS, "plugtone has not seen the phone yet")
    if not target.user:
        return Outcome(*base, NO_LINE, "the phone has no line to address the NOTIFY to")
    if ":" in target.address:
        return Outcome(*base, UNREACHABLE, "IPv6 addresses are not supported yet")
    return None


async def _one(sender, registry, target: Target, sip_port: int, index: int, done,
               local_address_towards) -> None:  # fmt: skip
    notify = registry.by_name[target.vendor].resync_notify
    base = (target.mac, target.vendor, target.site, target.address)
    local = local_address_towards(target.address, sip_port)
    try:
        request = NotifyRequest(target.user, target.address, sip_port, local, sender.port,
                                notify.event, notify.headers)  # fmt: skip
    except ValueError as error:
        done(index, Outcome(*base, NO_LINE, str(error)))
        return
    loop = asyncio.get_running_loop()
    started = loop.time()
    transaction: NotifyTransaction = await sender.send(request)
    seconds = round(loop.time() - started, 3)
    if transaction.final is None:
        done(index, Outcome(*base, TIMEOUT, "no final response before timer F",
                            len(transaction.sent_at), seconds))  # fmt: skip
        return
    done(index, Outcome(*base, str(transaction.final.code), transaction.final.reason[:80],
                        len(transaction.sent_at), seconds))  # fmt: skip


def _record(store: Store, actor: Actor, outcomes: Sequence[Outcome], sip_port: int) -> None:
    """One provisioning event per phone; the device's own state is left alone (a
    NOTIFY is plugtone talking, not the phone asking)."""
    recorder = EventRecorder(store)
    for outcome in outcomes:
        notify_path = f"NOTIFY sip:{outcome.address}:{sip_port}" if outcome.address else "NOTIFY"
        detail = f"resync by {actor.name}: {outcome.reason}" if outcome.reason else None
        recorder.record(
            Event(
                transport=TRANSPORT,
                path=notify_path,
                status=outcome.status,
                client_address=outcome.address,
                mac=outcome.mac,
                vendor=outcome.vendor,
                detail=detail,
                update_device=False,
            )
        )
    recorder.flush(force=True)
