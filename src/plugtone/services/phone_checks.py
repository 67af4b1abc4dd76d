"""What would keep a phone from working: asked of every phone a change touches, and of
the whole fleet by ``plugtone check``.

Vendor plug-ins know what their files can carry (a key the model cannot show, a
character the format cannot hold, a zone the firmware cannot express); the core knows
what the inventory lacks (a site without a SIP server, a pin without a release). Both
are asked here, with the phone as it will be once the change is written, so an apply
is refused with the phone, the key and the reason instead of a file that silently
drops them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import and_, or_, select, true
from sqlalchemy.orm import Session

from plugtone.firmware.targets import phone_targets
from plugtone.inventory.document import Problem
from plugtone.inventory.models import BrandingSet, Extension, LineAssignment, Phone, Site
from plugtone.macaddr import colon_mac
from plugtone.provisioning.views import load_phones
from plugtone.vendors import VendorRegistry
from plugtone.vendors.base import Finding, PhoneView

BATCH = 2_000
"""Phones whose views are built at once: bounded memory for a 100,000-phone check."""
CHUNK = 10_000
"""Most values bound in one ``IN``: PostgreSQL takes at most 65,535 parameters a query,
and an apply of a whole fleet touches every phone."""
PAIRS = 500
"""``(site, number)`` pairs looked up in one query."""


@dataclass(frozen=True)
class PhoneFinding:
    """One finding about one phone, as ``plugtone check`` and the API show it."""

    mac: str
    model: str
    site: str
    message: str
    refuse: bool

    def __str__(self) -> str:
        level = "error" if self.refuse else "warning"
        return (
            f"phone {colon_mac(self.mac)} ({self.model}, site {self.site}): {level}: {self.message}"
        )


def fleet_findings(
    session: Session, registry: VendorRegistry, macs: Iterable[str] | None = None
) -> list[PhoneFinding]:
    """Every finding of every phone (or of ``macs``), ordered by MAC."""
    conditions = [true()] if macs is None else list(_mac_conditions(macs))
    found: list[PhoneFinding] = []
    sites: dict = {}  # site views, shared by the batches: one load per site
    for batch in _batches(session, conditions):
        found.extend(_findings(session, registry, batch, sites=sites))
    return found


def refusals(
    session: Session,
    registry: VendorRegistry | None,
    changes: Iterable[object],
    places: Mapping[tuple[str, str], str],
) -> list[Problem]:
    """The refusing findings of the phones ``changes`` touch, as apply problems.

    ``changes`` are an apply's :class:`~plugtone.services.apply_changes.Change` rows
    (already written in ``session``); ``places`` maps ``(kind, key)`` to the entry's
    ``file:line:col`` so each problem points at what the admin wrote.
    """
    if registry is None:
        return []
    causes = _touched(changes)
    if not causes:
        return []
    conditions = _conditions(session, causes)
    if not conditions:
        return []
    sites: dict = {}  # site views, shared by the batches: one load per site
    refusing = [
        finding
        for batch in _batches(session, conditions)
        for finding in _findings(session, registry, batch, core=False, sites=sites)
        if finding.refuse
    ]
    problems: list[Problem] = []
    for finding in sorted(refusing, key=lambda finding: finding.mac):
        where = (
            places.get(("phone", finding.mac))
            or _first_place(places, causes)
            or f"phone {colon_mac(finding.mac)}"
        )
        message = f"phone {colon_mac(finding.mac)} ({finding.model}): {finding.message}"
        problems.append(Problem(where, message))
    return problems


def _touched(changes: Iterable[object]) -> list[tuple[str, str]]:
    kinds = {"phone", "site", "directory", "extension", "model", "branding"}
    return [
        (change.kind, change.key)  # type: ignore[attr-defined]
        for change in changes
        if change.kind in kinds and change.action != "delete"  # type: ignore[attr-defined]
    ]


def _conditions(session: Session, causes: Sequence[tuple[str, str]]) -> list:
    by_kind: dict[str, set[str]] = {}
    for kind, key in causes:
        by_kind.setdefault(kind, set()).add(key)
    conditions = []
    if "phone" in by_kind:
        conditions.extend(_mac_conditions(by_kind["phone"]))
    sites = by_kind.get("site", set()) | by_kind.get("directory", set())
    if sites:
        conditions.append(Phone.site_id.in_(select(Site.id).where(Site.name.in_(sites))))
    if "model" in by_kind:
        conditions.append(Phone.model.in_(by_kind["model"]))
    if "branding" in by_kind:
        names = by_kind["branding"]
        branding = select(BrandingSet.id).where(BrandingSet.name.in_(names))
        conditions.append(Phone.branding_id.in_(branding))
        conditions.append(Phone.site_id.in_(select(Site.id).where(Site.branding_id.in_(branding))))
    if "extension" in by_kind:
        for part in _chunks(_extension_ids(session, by_kind["extension"])):
            conditions.append(
                Phone.id.in_(
                    select(LineAssignment.phone_id).where(LineAssignment.extension_id.in_(part))
                )
            )
    return conditions


def _extension_ids(session: Session, keys: Iterable[str]) -> list[int]:
    """The ids of the extensions named ``site/number`` in ``keys``.

    A few queries per :data:`PAIRS` extensions, not one each: an apply of a whole
    fleet names every extension, and a query per extension was a quarter of its time.
    Each term is ``site_id = ? AND number IN (...)``, which the unique index answers
    (SQLite scans the table for a row-value IN-list); sorted pairs make a chunk span
    few sites.
    """
    wanted: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        if "/" in key:
            site, number = key.split("/", 1)
            wanted[site].add(number)
    site_ids: dict[str, int] = {}
    for part in _chunks(sorted(wanted)):
        rows = session.execute(select(Site.name, Site.id).where(Site.name.in_(part)))
        site_ids.update(rows.all())
    pairs = sorted(
        (site_ids[site], number)
        for site, numbers in wanted.items()
        if site in site_ids
        for number in numbers
    )
    ids: list[int] = []
    for start in range(0, len(pairs), PAIRS):
        numbers: dict[int, list[str]] = defaultdict(list)
        for site_id, number in pairs[start : start + PAIRS]:
            numbers[site_id].append(number)
        terms = [
            and_(Extension.site_id == site_id, Extension.number.in_(found))
            for site_id, found in numbers.items()
        ]
        ids.extend(session.scalars(select(Extension.id).where(or_(*terms))))
    return sorted(ids)


def _mac_conditions(macs: Iterable[str]) -> Iterator:
    for part in _chunks(sorted(set(macs))):
        yield Phone.mac.in_(part)


def _chunks(values: Sequence) -> Iterator[Sequence]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _first_place(places: Mapping[tuple[str, str], str], causes: Sequence[tuple[str, str]]):
    return next((places[cause] for cause in causes if cause in places), None)


def _batches(session: Session, conditions: Sequence) -> Iterator[list[Phone]]:
    """The phones any condition selects, each once, ordered by MAC, in batches of
    ``BATCH``.

    One query per condition rather than one ``OR`` of them all: each binds at most
    ``CHUNK`` values, under the driver's limit whatever the apply's size. The
    conditions select MACs only; each phone is then loaded once, however many
    conditions select it (a fleet-wide apply selects every phone by its MAC, its site
    and its extensions: three entities each were built and dropped)."""
    macs: set[str] = set()
    for condition in conditions:
        macs.update(session.scalars(select(Phone.mac).where(condition)))
    ordered = sorted(macs)
    for start in range(0, len(ordered), BATCH):
        part = ordered[start : start + BATCH]
        yield list(session.scalars(select(Phone).where(Phone.mac.in_(part)).order_by(Phone.mac)))


def _findings(
    session: Session,
    registry: VendorRegistry,
    phones: list[Phone],
    core: bool = True,
    sites: dict | None = None,
) -> list[PhoneFinding]:
    """Findings of ``phones``; ``sites`` is ``load_phones``' cache of site views, kept
    by the caller across its batches (batches go by MAC, so each spans many sites)."""
    views = load_phones(session, phones, sites)
    site_ids = {phone.site_id for phone in phones}
    site_names = dict(
        session.execute(select(Site.id, Site.name).where(Site.id.in_(site_ids))).all()
    )
    targets = phone_targets(session, phones) if core else {}
    found: list[PhoneFinding] = []
    for phone in phones:
        view = views[phone.mac]
        site = site_names.get(phone.site_id, "?")
        items: list[Finding] = []
        if core:
            items.extend(_core_findings(view, targets.get(phone.id)))
        plugin = registry.by_name.get(phone.vendor)
        if plugin is not None:
            items.extend(_vendor_findings(plugin, view))
        found.extend(
            PhoneFinding(phone.mac, phone.model, site, item.message, item.refuse) for item in items
        )
    return found


def _vendor_findings(plugin, view: PhoneView) -> list[Finding]:
    """The plug-in's findings, with the site's default keys held to a lower bar.

    A site's keys are defaults for every phone of the site that has none of its own,
    whatever its vendor and model, so a key one model cannot show must not stop an
    apply for the whole site: what the phone's files cannot carry of those defaults is
    a warning (the phone shows the others, and ``plugtone check`` says which it
    leaves out). Keys the phone was given itself are refused as the plug-in says.
    """
    found = plugin.check_phone(view)
    if view.keys or not view.site.keys or not any(item.refuse for item in found):
        return found
    keyless = replace(view, site=replace(view.site, keys=()))
    without_keys = {item.message for item in plugin.check_phone(keyless)}
    return [
        item
        if not item.refuse or item.message in without_keys
        else Finding(
            f"{item.message} (a default key of site {view.site.name}: the phone leaves it out)",
            refuse=False,
        )
        for item in found
    ]


def _core_findings(view, target) -> list[Finding]:
    """What the inventory lacks for any vendor's phone."""
    items: list[Finding] = []
    if not view.site.sip_server:
        items.append(Finding(f"site {view.site.name} has no SIP server"))
    if not view.lines:
        items.append(Finding("no line is assigned: the phone registers nowhere", refuse=False))
    if target is not None:
        outcome, release = target
        if getattr(outcome, "version", None) is not None and release is None:
            items.append(
                Finding(
                    f"pinned to firmware {outcome.version}, but no stored release of that "
                    f"version is for the {view.model}: its firmware is left alone"
                )
            )
    return items


def check_fleet(
    store, actor, registry: VendorRegistry, macs: Iterable[str] | None = None
) -> list[PhoneFinding]:
    """:func:`fleet_findings` for a caller with at least the viewer role."""
    from plugtone.services.unit_of_work import reading

    with reading(store, actor) as session:
        return fleet_findings(session, registry, macs)
