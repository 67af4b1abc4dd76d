"""Apply and export the inventory as one document: the file, the API and the UI.

``apply_inventory`` is the one path every inventory change takes, whatever its face:
an applied file, an API call that changes one phone (a one-entry document), a CSV
import. Field rules are therefore the inventory file's (``inventory/document.py``),
written once.

Reads show secrets as :data:`MASK`; a face that sends an entry back as it read it
(GET, change a field, PUT) sends the mask too. A mask in place of an extension's
password or a site's FTP password therefore means "keep the stored one": a round trip
never overwrites a password with eight asterisks. The same holds for a phone's
``http_password``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugtone.inventory.document import Document, Problem
from plugtone.inventory.gc_pause import gc_paused
from plugtone.inventory.models import Extension, Phone, Site
from plugtone.inventory.store import Store
from plugtone.services.actors import Actor, Role
from plugtone.services.errors import Conflict, Invalid
from plugtone.services.inventory_apply import (
    ApplyRefused,
    ApplyResult,
    Plan,
    StalePlan,
    plan_document,
)
from plugtone.services.inventory_export import document_yaml, entry_exists, export_document
from plugtone.services.masked_settings import keep_masked_settings
from plugtone.services.unit_of_work import MASK, reading, unit_of_work
from plugtone.vendors import VendorRegistry


def apply_inventory(
    store: Store,
    actor: Actor,
    document: Document,
    registry: VendorRegistry,
    *,
    prune: bool = False,
    dry_run: bool = False,
    must_be_new: tuple[str, str] | None = None,
) -> ApplyResult:
    """Make the store match ``document``; every change is role-checked and audited.

    A dry run computes exactly what a real apply would do and writes nothing.
    ``must_be_new`` (``("site", "hq")``) refuses with :class:`Conflict` when that entry
    exists already, checked under the write lock, so two creations of one entry
    cannot both succeed.
    """
    # The collector stays paused through the writes, the checks of the phones they
    # touch and the audit rows, not only the plan (see gc_pause): a fleet's document,
    # plan and changes are millions of live objects, and each full collection the
    # writes' allocations set off walked them all (4.7 of 28.6 s of CPU for 20,000 phones).
    with gc_paused(), unit_of_work(store, actor, dry_run=dry_run) as work:
        work.require(Role.OPERATOR, "changing the inventory")
        if prune:
            work.require(Role.ADMIN, "pruning the inventory")

        def plan() -> Plan:
            if must_be_new is not None and entry_exists(work.session, *must_be_new):
                kind, key = must_be_new
                raise Conflict(f"{kind} {key} exists already; PUT replaces it")
            kept = keep_masked_secrets(work.session, document)
            planned = plan_document(work.session, kept, prune=prune, registry=registry)
            if must_be_new is not None and not any(
                (change.action, change.kind, change.key) == ("create", *must_be_new)
                for change in planned.changes
            ):
                # the entry appeared between the check and the plan's own reads (SQLite
                # reads outside a write are not one snapshot): the plan does not create it
                kind, key = must_be_new
                raise Conflict(f"{kind} {key} exists already; PUT replaces it")
            work.authorize(change.kind for change in planned.changes)
            return planned

        try:
            planned = plan()  # parsing, checks and diffing hold no lock
            if not planned.changes:
                return ApplyResult([], None)
            # End the read snapshot: the write lock is taken in a fresh transaction, and
            # a writer that committed meanwhile shows as a moved generation.
            work.session.rollback()
            work.lock()
            try:
                result = planned.write(work.session)
            except StalePlan:
                result = plan().write(work.session)  # under the lock now: cannot move
        except ApplyRefused as refused:
            raise Invalid(refused.problems) from None
        work.audit_changes(result.changes)
        return result


def keep_masked_tr069(session: Session, document: Document, problems: list) -> Document:
    """Each site's masked ``tr069.bootstrap_password`` replaced by the stored one."""
    masked = [site.name for site in document.sites if site.tr069_password == MASK]
    if not masked:
        return document
    stored = dict(
        session.execute(select(Site.name, Site.tr069_password).where(Site.name.in_(masked))).all()
    )
    sites = []
    for site in document.sites:
        if site.tr069_password == MASK:
            kept = stored.get(site.name)
            if not kept:
                problems.append(
                    Problem(site.where, _mask_refusal("site", "tr069.bootstrap_password"))
                )
            site = dataclasses.replace(site, tr069_password=kept)
        sites.append(site)
    return dataclasses.replace(document, sites=sites)


def keep_masked_secrets(session: Session, document: Document) -> Document:
    """``document`` with each :data:`MASK` password replaced by the stored one.

    A mask for an entry that has no stored password (a new extension, a site without
    an FTP account) is refused: the mask is never a password.
    """
    document, problems = keep_masked_settings(session, document)
    masked_extensions = [ext for ext in document.extensions if ext.password == MASK]
    document = keep_masked_tr069(session, document, problems)
    masked_sites = [site for site in document.sites if site.ftp_password == MASK]
    masked_phones = [phone for phone in document.phones if phone.http_password == MASK]
    if not masked_extensions and not masked_sites and not masked_phones:
        if problems:
            raise Invalid(problems)
        return document
    stored: dict[tuple[str, str], str | None] = {}
    site_names = {ext.site for ext in masked_extensions}
    if site_names:
        stored = {
            (site, number): password
            for site, number, password in session.execute(
                select(Site.name, Extension.number, Extension.password)
                .join(Site, Site.id == Extension.site_id)
                .where(Site.name.in_(site_names))
            )
        }
    extensions = []
    for ext in document.extensions:
        if ext.password == MASK:
            kept = stored.get((ext.site, ext.number))
            if kept is None:
                problems.append(Problem(ext.where, _mask_refusal("extension", "password")))
            ext = dataclasses.replace(ext, password=kept)
        extensions.append(ext)
    ftp_passwords: dict[str, str | None] = {}
    if masked_sites:
        ftp_passwords = dict(
            session.execute(
                select(Site.name, Site.ftp_password).where(
                    Site.name.in_([site.name for site in masked_sites])
                )
            ).all()
        )
    sites = []
    for site in document.sites:
        if site.ftp_password == MASK:
            kept = ftp_passwords.get(site.name)
            if not kept:
                problems.append(Problem(site.where, _mask_refusal("site", "ftp_account.password")))
            site = dataclasses.replace(site, ftp_password=kept)
        sites.append(site)
    phones = document.phones
    if masked_phones:
        logins: dict[str, str | None] = {}
        for start in range(0, len(masked_phones), 500):
            macs = [phone.mac for phone in masked_phones[start : start + 500]]
            logins.update(
                session.execute(
                    select(Phone.mac, Phone.http_password).where(Phone.mac.in_(macs))
                ).all()
            )
        phones = []
        for phone in document.phones:
            if phone.http_password == MASK:
                kept = logins.get(phone.mac)
                if not kept:
                    problems.append(Problem(phone.where, _mask_refusal("phone", "http_password")))
                phone = dataclasses.replace(phone, http_password=kept)
            phones.append(phone)
    if problems:
        raise Invalid(problems)
    return dataclasses.replace(document, extensions=extensions, sites=sites, phones=phones)


def _mask_refusal(kind: str, field: str) -> str:
    return (
        f"{field} is {MASK!r}, the mask reads show in place of a secret, but this {kind} "
        "has no stored one to keep: send the password itself"
    )


def export_inventory(store: Store, actor: Actor, *, secrets: bool = False) -> dict[str, Any]:
    """The whole inventory in the inventory file's shape.

    Secrets are masked unless ``secrets``, which needs an admin and is audited as a
    disclosure.
    """
    if not secrets:
        with reading(store, actor) as session:
            return export_document(session, secrets=False)
    with unit_of_work(store, actor) as work:
        work.authorize(["disclosure"])
        document = export_document(work.session, secrets=True)
        work.audit("read", "disclosure", "inventory", "the whole inventory with its secrets")
        return document


def export_inventory_yaml(store: Store, actor: Actor, *, secrets: bool = False) -> str:
    """:func:`export_inventory` as the inventory file, ready to apply again."""
    return document_yaml(export_inventory(store, actor, secrets=secrets))
