"""One inventory object at a time: what the API and the UI do to a site, extension,
phone or branding set.

Reading one answers from that object's rows alone. Creating or replacing one applies
a one-entry document through :func:`~plugtone.services.inventory.apply_inventory`, so
the inventory file's field rules, references, roles and audit are the API's with no
second copy. A body is checked as the entry it stands for (``{"phones": [body]}``),
with problems named by field path relative to the body (``lines[1]``).

Deleting has no file equivalent short of ``--prune``, so it is written here: one unit
of work per call, refused while something still uses the object (a site's phones,
an extension on a line, a branding set given to a site), audited, and the generation
bumped so every transport serves the change.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugtone.inventory.changes import record_narrow
from plugtone.inventory.document import NAME_RE, NUMBER_RE, Document, Problem, parse_document
from plugtone.inventory.models import BrandingSet, Extension, LineAssignment, Phone, Site
from plugtone.inventory.store import Store
from plugtone.macaddr import MacError, colon_mac, normalize_mac
from plugtone.services import inventory_export as export
from plugtone.services.actors import Actor
from plugtone.services.change_marks import mark_causes
from plugtone.services.errors import Conflict, Invalid, NotFound
from plugtone.services.inventory import apply_inventory
from plugtone.services.inventory_apply import ApplyResult
from plugtone.services.json_source import BODY, FieldPaths
from plugtone.services.unit_of_work import reading, unit_of_work
from plugtone.vendors import VendorRegistry

SECTIONS = {"site": "sites", "extension": "extensions", "phone": "phones", "branding": "branding"}
"""The inventory file's list for each kind of entry."""
SECRET_KINDS = ("site", "extension", "phone")
"""Kinds whose entries hold a secret (FTP, SIP, provisioning passwords)."""


def phone_mac(text: str, field: str = "mac") -> str:
    """A MAC in any notation as stored; :class:`Invalid` naming ``field`` otherwise."""
    try:
        return normalize_mac(text)
    except MacError as error:
        raise Invalid([Problem(field, str(error))]) from None


def describe(kind: str, key: str) -> str:
    """How a message names an entry: ``phone 00:08:5D:00:00:01``, ``extension hq/3003``."""
    return f"{kind} {colon_mac(key) if kind == 'phone' else key}"


# -- reads ----------------------------------------------------------------------------


def get_entry(store: Store, actor: Actor, kind: str, key: str, *, secrets: bool = False) -> dict:
    """One entry in the inventory file's shape; secrets shown only to an admin who asks
    (audited as a disclosure)."""
    _known(kind, key)
    if secrets and kind in SECRET_KINDS:
        with unit_of_work(store, actor) as work:
            work.authorize(["disclosure"])
            entry = export.export_entry(work.session, kind, key, secrets=True)
            if entry is None:
                raise NotFound(f"no {describe(kind, key)}")
            work.audit("read", "disclosure", f"{kind} {key}", "secrets shown")
            return entry
    with reading(store, actor) as session:
        entry = export.export_entry(session, kind, key)
    if entry is None:
        raise NotFound(f"no {describe(kind, key)}")
    return entry


def list_entries(store: Store, actor: Actor, kind: str, *, secrets: bool = False,
                 **filters: Any) -> export.Page:  # fmt: skip
    """A page of sites, extensions, phones or branding sets (see ``inventory_export``)."""
    lists = {
        "site": export.list_sites, "extension": export.list_extensions,
        "phone": export.list_phones, "branding": export.list_brandings,
    }  # fmt: skip
    for name in ("site", "model", "vendor", "q"):
        check_text(name, filters.get(name), 64 if name == "site" else 255)
    if secrets and kind in SECRET_KINDS:
        filters["secrets"] = True
        with unit_of_work(store, actor) as work:
            work.authorize(["disclosure"])
            page = lists[kind](work.session, **filters)
            shown = f"{len(page.items)} with their secrets"
            work.audit("read", "disclosure", SECTIONS[kind], shown)
            return page
    with reading(store, actor) as session:
        return lists[kind](session, **filters)


def site_names(store: Store, actor: Actor, limit: int = 1000) -> list[str]:
    """The first ``limit`` site names, sorted: what a site chooser needs (one query of
    one column, where listing the sites' entries builds each whole)."""
    with reading(store, actor) as session:
        return list(session.scalars(select(Site.name).order_by(Site.name).limit(limit)))


def get_contacts(store: Store, actor: Actor, site: str) -> list[dict[str, str]]:
    _known("site", site)
    with reading(store, actor) as session:
        contacts = export.site_contacts(session, site)
    if contacts is None:
        raise NotFound(f"no site {site}")
    return contacts


# -- create, replace, merge -----------------------------------------------------------


def parse_entry(
    registry: VendorRegistry, kind: str, body: Any, key: str | None = None
) -> tuple[Document, str]:
    """``body`` checked as one entry of its kind; the document and the entry's key.

    With ``key`` (from the URL), a body that leaves its key fields out takes them, and
    one that names another key is refused: a PUT cannot rename or move what its URL
    names.
    """
    section = SECTIONS[kind]
    entry = copy.deepcopy(body)
    problems: list[Problem] = []
    if isinstance(entry, dict):
        for name, wanted in (_key_fields(kind, key) if key is not None else {}).items():
            given = entry.setdefault(name, wanted)
            if not _same_key(kind, name, given, wanted):
                problems.append(Problem(name, f"does not match the {name} in the URL"))
        problems += file_references({section: [entry]}, prefix=(section, 0))
    if problems:
        raise Invalid(problems)
    document, problems = parse_document(FieldPaths({section: [entry]}, (section, 0)), registry)
    if problems:
        raise Invalid(problems)
    spec = getattr(document, section)[0]
    found = {
        "site": lambda: spec.name,
        "branding": lambda: spec.name,
        "phone": lambda: spec.mac,
        "extension": lambda: f"{spec.site}/{spec.number}",
    }
    return document, found[kind]()  # fmt: skip


def valid_key(kind: str, key: str) -> bool:
    """Whether ``key`` can name an entry at all (else it names none: 404, and a string
    the store would choke on, such as one with a NUL, never reaches it)."""
    if kind == "extension":
        site, _, number = key.partition("/")
        return bool(NAME_RE.match(site) and NUMBER_RE.match(number))
    if kind == "phone":
        return len(key) == 12 and all(ch in "0123456789ABCDEF" for ch in key)
    return bool(NAME_RE.match(key))


def _known(kind: str, key: str) -> None:
    if not valid_key(kind, key):
        raise NotFound(f"no {kind} {key[:80]!r}")


def check_text(field: str, value: str | None, longest: int = 255) -> str | None:
    """A filter's text, refused when no stored value could equal it."""
    if value is not None and (len(value) > longest or any(ord(ch) < 32 for ch in value)):
        raise Invalid([Problem(field, f"at most {longest} characters, no control characters")])
    return value


def _key_fields(kind: str, key: str) -> dict[str, str]:
    if kind == "extension":
        site, _, number = key.partition("/")
        return {"site": site, "number": number}
    return {"mac": colon_mac(key)} if kind == "phone" else {"name": key}


def _same_key(kind: str, name: str, given: Any, wanted: str) -> bool:
    if kind == "phone" and isinstance(given, str):
        try:
            return normalize_mac(given) == normalize_mac(wanted)
        except MacError:
            return False
    return isinstance(given, str | int) and not isinstance(given, bool) and str(given) == wanted


def file_references(data: Any, prefix: tuple = ()) -> list[Problem]:
    """Branding entries that name files on the server, refused for bodies sent over the
    network: a file name there would be read from the server's disk and served to
    phones. Stored content is named by hash, as ``export`` writes it."""
    where = FieldPaths(data, prefix).where
    problems = []
    entries = data.get("branding") if isinstance(data, dict) else None
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict):
            continue
        logo = entry.get("logo")
        if isinstance(logo, str) and not logo.startswith("sha256:"):
            problems.append(
                Problem(where(("branding", index, "logo")), "name a stored image as sha256:<hex>")
            )
        files = entry.get("files")
        for position, item in enumerate(files if isinstance(files, list) else []):
            if not isinstance(item, dict):
                problems.append(
                    Problem(
                        where(("branding", index, "files", position)),
                        "name a stored file as {name, sha256}",
                    )
                )
    return problems


def put_entry(
    store: Store, actor: Actor, registry: VendorRegistry, kind: str, key: str, body: Any, *,
    dry_run: bool = False,
) -> ApplyResult:  # fmt: skip
    """Create or replace the entry ``key`` from ``body`` (the inventory file's shape).

    A field left out takes its default, as in the file.
    """
    document, _ = parse_entry(registry, kind, body, key)
    return apply_inventory(store, actor, document, registry, dry_run=dry_run)


def create_entry(
    store: Store, actor: Actor, registry: VendorRegistry, kind: str, body: Any, *,
    dry_run: bool = False,
) -> tuple[ApplyResult, str]:  # fmt: skip
    """Create one entry (POST); :class:`Conflict` when it exists. Returns its key."""
    document, key = parse_entry(registry, kind, body)
    result = apply_inventory(store, actor, document, registry, dry_run=dry_run,
                             must_be_new=(kind, key))  # fmt: skip
    return result, key


def patch_entry(
    store: Store, actor: Actor, registry: VendorRegistry, kind: str, key: str, patch: Any, *,
    dry_run: bool = False,
) -> ApplyResult:  # fmt: skip
    """Merge ``patch`` into the entry as read (RFC 7396: ``null`` removes a field) and
    apply the result; masked secrets in what was read keep the stored ones."""
    if not isinstance(patch, dict):
        raise Invalid([Problem(BODY, "a merge patch is a JSON object")])
    current = get_entry(store, actor, kind, key)
    return put_entry(store, actor, registry, kind, key, merge_patch(current, patch),
                     dry_run=dry_run)  # fmt: skip


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def put_document(
    store: Store, actor: Actor, registry: VendorRegistry, data: Any, *,
    prune: bool = False, dry_run: bool = False,
) -> ApplyResult:  # fmt: skip
    """The whole inventory from a JSON document in the file's shape."""
    problems = file_references(data)
    if problems:
        raise Invalid(problems)
    document, problems = parse_document(FieldPaths(data), registry)
    if problems:
        raise Invalid(problems)
    return apply_inventory(store, actor, document, registry, prune=prune, dry_run=dry_run)


def replace_contacts(
    store: Store, actor: Actor, registry: VendorRegistry, site: str, contacts: Any
) -> ApplyResult:
    """Replace a site's directory contacts, keeping everything else about the site.

    Applied as the site's entry with a new ``directory``, so the change is a
    ``directory`` change an operator may make, checked by the file's rules.
    """
    if not isinstance(contacts, list):
        raise Invalid([Problem(BODY, "expected a list of contacts")])
    current = get_entry(store, actor, "site", site)
    current["directory"] = contacts
    located = FieldPaths({"sites": [current]}, ("sites", 0, "directory"))
    document, problems = parse_document(located, registry)
    if problems:
        raise Invalid(problems)
    return apply_inventory(store, actor, document, registry)


# -- deletes --------------------------------------------------------------------------


def delete_phone(store: Store, actor: Actor, mac: str) -> None:
    _known("phone", mac)
    with unit_of_work(store, actor) as work:
        work.authorize(["phone"])
        work.lock()
        phone = work.session.scalar(select(Phone).where(Phone.mac == mac))
        if phone is None:
            raise NotFound(f"no {describe('phone', mac)}")
        before = export.export_phone(work.session, mac)
        work.session.delete(phone)
        work.session.flush()
        work.audit("delete", "phone", mac, None, before, None)
        record_narrow(work.session, work.bump(), [mac])  # caches drop this phone only


def delete_extension(store: Store, actor: Actor, site: str, number: str) -> None:
    _known("extension", f"{site}/{number}")
    with unit_of_work(store, actor) as work:
        work.authorize(["extension"])
        work.lock()
        extension = work.session.scalar(
            select(Extension)
            .join(Site, Site.id == Extension.site_id)
            .where(Site.name == site, Extension.number == number)
        )
        if extension is None:
            raise NotFound(f"no extension {site}/{number}")
        _refuse_if_on_lines(work.session, [extension])
        before = export.export_extension(work.session, site, number)
        work.session.delete(extension)
        work.session.flush()
        work.audit("delete", "extension", f"{site}/{number}", None, before, None)
        # the extension left the site's directory, which every phone of the site shows
        generation = work.bump()
        mark_causes(work.session, generation, [("site", site)])
        record_narrow(work.session, generation)


def delete_site(store: Store, actor: Actor, name: str) -> None:
    """Delete a site with its extensions, contacts, keys, settings and pins.

    Refused while phones are in the site or one of its extensions is on a line (of a
    phone anywhere): move or delete those first.
    """
    _known("site", name)
    with unit_of_work(store, actor) as work:
        work.authorize(["site", "extension"])
        work.lock()
        site = work.session.scalar(select(Site).where(Site.name == name))
        if site is None:
            raise NotFound(f"no site {name}")
        phones = work.session.scalar(select(func.count(Phone.id)).where(Phone.site_id == site.id))
        if phones:
            raise Conflict(f"site {name} still has {phones} phone(s): move or delete them first")
        extensions = list(
            work.session.scalars(
                select(Extension).where(Extension.site_id == site.id).order_by(Extension.number)
            )
        )
        _refuse_if_on_lines(work.session, extensions)
        before = export.export_site(work.session, name)
        for extension in extensions:
            entry = export.export_extension(work.session, name, extension.number)
            work.session.delete(extension)
            work.audit("delete", "extension", f"{name}/{extension.number}", None, entry, None)
        work.session.flush()
        work.session.delete(site)
        work.session.flush()
        work.audit("delete", "site", name, None, before, None)
        work.bump()


def delete_branding(store: Store, actor: Actor, name: str) -> None:
    _known("branding", name)
    with unit_of_work(store, actor) as work:
        work.authorize(["branding"])
        work.lock()
        branding = work.session.scalar(select(BrandingSet).where(BrandingSet.name == name))
        if branding is None:
            raise NotFound(f"no branding set {name}")
        users = [
            f"site {site}"
            for site in work.session.scalars(
                select(Site.name).where(Site.branding_id == branding.id).order_by(Site.name)
            )
        ]
        phones = work.session.scalar(
            select(func.count(Phone.id)).where(Phone.branding_id == branding.id)
        )
        if phones:
            users.append(f"{phones} phone(s)")
        if users:
            raise Conflict(f"branding set {name} is given to {', '.join(users[:5])}")
        before = export.export_branding(work.session, name)
        work.session.delete(branding)
        work.session.flush()
        work.audit("delete", "branding", name, None, before, None)
        work.bump()


def _refuse_if_on_lines(session: Session, extensions: list[Extension]) -> None:
    if not extensions:
        return
    found = session.execute(
        select(Extension.number, Phone.mac, LineAssignment.index)
        .join(LineAssignment, LineAssignment.extension_id == Extension.id)
        .join(Phone, Phone.id == LineAssignment.phone_id)
        .where(Extension.id.in_([extension.id for extension in extensions]))
        .order_by(Phone.mac, LineAssignment.index)
        .limit(6)
    ).all()
    if found:
        places = ", ".join(f"{number} on line {index} of {colon_mac(mac)}"
                           for number, mac, index in found[:5])  # fmt: skip
        more = " and more" if len(found) > 5 else ""
        raise Conflict(f"extension {places}{more}: take it off the phone first")
