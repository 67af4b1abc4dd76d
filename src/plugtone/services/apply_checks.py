"""What must hold before an apply is planned: references resolve, extensions sit once.

Both checks run on the document and the snapshot alone, before anything is written,
and report every problem with the ``file:line:col`` of the entry it is about.
"""

from __future__ import annotations

from plugtone.inventory.document import Document, Problem
from plugtone.macaddr import colon_mac
from plugtone.services.apply_snapshot import ExtensionKey, Snapshot


def check_references(snap: Snapshot, doc: Document, prune: bool) -> list[Problem]:
    """Sites, extensions, branding sets and stored files that entries name must exist,
    in the document or (without ``prune``, which deletes the rest) in the store; an
    FTP user may not be another stored site's, nor a provisioning login another stored
    phone's."""
    problems: list[Problem] = []
    file_sites = {site.name for site in doc.sites}
    file_users = {site.ftp_user: site.name for site in doc.sites if site.ftp_user}
    for user, name in sorted(snap.ftp_owners.items(), key=lambda item: item[1]):
        claimed = file_users.get(user)
        if claimed and claimed != name and name not in file_sites:
            where = next(s.where for s in doc.sites if s.name == claimed)
            problems.append(Problem(where, f"FTP user {user!r} already belongs to site {name!r}"))
    file_logins = {phone.mac: phone.http_user for phone in doc.phones}
    for phone in doc.phones:
        holder = snap.http_owners.get(phone.http_user) if phone.http_user else None
        if holder is None or holder == phone.mac:
            continue
        if holder in file_logins and file_logins[holder] != phone.http_user:
            continue  # the document gives the holder another login (or none)
        if prune and holder not in file_logins:
            continue  # pruning deletes the holder
        problems.append(
            Problem(
                phone.where,
                f"provisioning login (http_user) {phone.http_user!r} already belongs to phone "
                f"{colon_mac(holder)}: each phone needs a login of its own",
            )
        )
    for branding in doc.branding:
        logo = branding.logo
        if logo is not None and logo.content is None and logo.sha256 not in snap.blobs:
            problems.append(Problem(logo.where, f"no stored image sha256:{logo.sha256}"))
        for item in branding.files:
            if item.content is None and item.sha256 not in snap.blobs:
                message = f"no stored file sha256:{item.sha256} ({item.name})"
                problems.append(Problem(item.where, message))
    stored = not prune
    known_brandings = {b.name for b in doc.branding} | (set(snap.brandings) if stored else set())
    for owner in (*doc.sites, *doc.phones):
        if owner.branding and owner.branding not in known_brandings:
            problems.append(Problem(owner.where, f"unknown branding set {owner.branding!r}"))
    known_sites = file_sites | (set(snap.sites) if stored else set())
    known_extensions = {(ext.site, ext.number) for ext in doc.extensions}
    if stored:
        known_extensions |= set(snap.extensions)
    for ext in doc.extensions:
        if ext.site not in known_sites:
            problems.append(
                Problem(ext.where, f"extension {ext.number}: unknown site {ext.site!r}")
            )
    for phone in doc.phones:
        if phone.site not in known_sites:
            problems.append(Problem(phone.where, f"phone {phone.mac}: unknown site {phone.site!r}"))
        for line in phone.lines:
            site = line.site or phone.site
            if (site, line.number) not in known_extensions:
                message = f"line {line.index}: no extension {line.number!r} in site {site!r}"
                problems.append(Problem(line.where, message))
    return problems


def check_assignments(snap: Snapshot, doc: Document) -> list[Problem]:
    """An extension not marked ``shared`` may sit on one line of one phone only,
    counting the document's phones as they will be and stored phones it leaves alone."""
    places: dict[ExtensionKey, list[tuple[str, int]]] = {}
    for phone in doc.phones:
        for line in phone.lines:
            key = (line.site or phone.site, line.number)
            places.setdefault(key, []).append((phone.mac, line.index))
    for key, row in snap.extensions.items():
        if row.id in snap.elsewhere:
            places.setdefault(key, []).extend(snap.elsewhere[row.id])
    shared = {key: bool(row.shared) for key, row in snap.extensions.items()}
    shared.update({(ext.site, ext.number): ext.shared for ext in doc.extensions})
    where = {spec.mac: spec.where for spec in doc.phones}
    problems = []
    for key in sorted(places):
        on = places[key]
        if len(on) < 2 or shared.get(key, False):
            continue
        on.sort()
        location = next((where[mac] for mac, _ in on if mac in where), "inventory")
        shown = ", ".join(f"{mac} line {index}" for mac, index in on)
        problems.append(
            Problem(
                location,
                f"extension {key[0]}/{key[1]} is on {shown}; "
                "an extension may be on one line of one phone unless it is marked shared: true",
            )
        )
    return problems
