"""The vendor's stock configuration files, kept with their release and served with it.

A SIP 3.x release zip holds, next to the images, ``sip.cfg`` (the application's
settings), ``phone1.cfg`` (the per-phone template) and its own master file
``000000000000.cfg``, whose ``CONFIG_FILES="phone1.cfg, sip.cfg"`` says which of them
a phone reads; UC Software zips add templates (``applications.cfg``, ``features.cfg``,
``reg-advanced.cfg``, ``sip-basic.cfg``, ``site.cfg``...) that their master file
(``CONFIG_FILES=""``) does not list. Polycom's guides say the configuration files
shipped with an application release must be used with that release ("failure to do
this may render the phone unusable", SIP 2.2 Administrator's Guide p. 2-5), and the
seed has ``sip.cfg`` and ``phone1.cfg`` in the FTP root.

So every ``.cfg`` of a release is kept (role ``configuration``), and the release's
master file too (role ``master``, never served: plugtone writes the master files).
When a release is added, :func:`arrange` reads that master file's ``CONFIG_FILES``
and gives the files it lists, in its order, the roles ``configuration 1``,
``configuration 2``...: those are the files a phone is told to read. Without a
master file (the files given one by one), every stock file is listed, in the SIP 3.x
order (``phone1.cfg``, ``sip.cfg``), the others after by name.

Which release's files a phone gets: its pinned release's (the pin decides what it
will run), else, with no pin, the release plugtone knows it runs
(:attr:`~plugtone.vendors.base.PhoneView.running_release`). The master file lists
them after plugtone's own files, so plugtone's values win (the first file listed
wins on Polycom); a phone with none gets a master file without them and a site file
carrying :mod:`.essentials` instead, and :func:`stock_findings` warns of it. A phone
plugtone only *believes* runs a release keeps the essentials too: its evidence (the
User-Agent, whose version is the BootROM's in its first requests) may change between
the master file and the site file of one boot, and it must boot either way.

Stock files are served at the top of the tree by name, in any case (``SIP.CFG``),
as FIRMWARE files the resolver sends as stored; never to a stranger or a phone
plugtone does not know (the resolver's rule for every release file), which is also
why the master file for unknown phones lists none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from defusedxml import ElementTree as SafeET

from plugtone.vendors.base import FileRef, FileScope, Finding, FirmwareView, PhoneView

CONFIGURATION = "configuration"
"""Role of a stock file the release's master file does not list (kept, served by name)."""
LISTED = "configuration "
"""Role prefix of a listed stock file: ``configuration 1`` is read first."""
MASTER = "master"
"""Role of the release's own ``000000000000.cfg`` (read when the release is added)."""
RELEASE_MASTER = "000000000000.cfg"
SIP3_ORDER = ("phone1.cfg", "sip.cfg")
"""The SIP 3.x master file's own order, for stock files given without it."""

STOCK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}\.cfg", re.I)
"""A stock file's name: no folder, and (starting with a letter) never a per-MAC name."""


def stock_role(name: str) -> str | None:
    """``configuration`` for a stock file name, ``master`` for the release's master file."""
    if name.lower() == RELEASE_MASTER:
        return MASTER
    return CONFIGURATION if STOCK_NAME.fullmatch(name) else None


def match_stock(vendor: str, path: str) -> FileRef | None:
    """A FIRMWARE ref for a stock file asked for at the top of the tree."""
    if stock_role(path) != CONFIGURATION:
        return None
    return FileRef(vendor, path.lower(), FileScope.FIRMWARE)


def arrange(roles: Mapping[str, str], read: Callable[[str], bytes]) -> dict[str, str]:
    """The roles of a release's files once its master file's ``CONFIG_FILES`` is read.

    Only the main ``CONFIG_FILES`` counts: per-model ``CONFIG_FILES_<token>`` lists name
    older releases' files (the seed's ``phone1_212.cfg``), which this release does not
    hold. Entries that are URLs, paths or macros name nothing of the release.
    """
    arranged = dict(roles)
    stock = {name.lower(): name for name, role in roles.items() if role == CONFIGURATION}
    masters = [name for name, role in roles.items() if role == MASTER]
    if masters:
        listed = []
        for entry in _config_files(masters[0], read(masters[0])):
            name = stock.get(entry.lower())
            if name is not None and name not in listed:
                listed.append(name)
    else:
        listed = sorted(
            stock.values(),
            key=lambda name: (SIP3_ORDER.index(name.lower()) if name.lower() in SIP3_ORDER
                              else len(SIP3_ORDER), name.lower()),
        )  # fmt: skip
    for position, name in enumerate(listed, start=1):
        arranged[name] = f"{LISTED}{position}"
    return arranged


def listed_files(release: FirmwareView) -> list[str]:
    """The stock files a phone on ``release`` is told to read, in their order.

    A view built without roles (every role ``None``) lists its stock files in the
    order :func:`arrange` gives files without a master file.
    """
    if all(item.role is None for item in release.files):
        roles = {item.name: stock_role(item.name) or "" for item in release.files}
        roles = {name: role for name, role in roles.items() if role != MASTER}
        arranged = arrange(roles, _unreadable)
        ranked = {name: role for name, role in arranged.items() if role.startswith(LISTED)}
    else:
        ranked = {
            item.name: item.role
            for item in release.files
            if item.role and item.role.startswith(LISTED)
        }
    return sorted(ranked, key=lambda name: int(ranked[name][len(LISTED) :]))


def stock_release(phone: PhoneView) -> tuple[FirmwareView | None, str]:
    """``(release, why)``: the release whose stock files ``phone`` reads, if any.

    ``why`` is ``pinned`` or ``runs`` (the release it is known to run, with no pin).
    A pinned release without stock files gives none: the phone is about to run it.
    """
    if phone.firmware is not None:
        return (phone.firmware if listed_files(phone.firmware) else None), "pinned"
    running = phone.running_release
    if running is not None and phone.model in running.models and listed_files(running):
        return running, "runs"
    return None, ""


def stock_files(phone: PhoneView) -> list[str]:
    """The stock file names ``phone``'s master file lists (after plugtone's own)."""
    release, _ = stock_release(phone)
    return listed_files(release) if release is not None else []


def needs_essentials(phone: PhoneView) -> bool:
    """Whether the site file must carry :mod:`.essentials`: no stock files, or stock
    files plugtone only believes the phone runs (see the module's docstring)."""
    release, why = stock_release(phone)
    return release is None or why != "pinned"


def master_note(phone: PhoneView) -> str:
    """Which case the phone is in, for a comment of its master file (``plugtone render``)."""
    release, why = stock_release(phone)
    if release is None:
        return "no stock files: the site file carries what sip.cfg and phone1.cfg would"
    how = "pinned" if why == "pinned" else "the release it runs, no pin"
    return f"stock files of release {release.version} ({how}): {' '.join(listed_files(release))}"


def stock_findings(phone: PhoneView) -> list[Finding]:
    """A warning when the phone has no stock files of a pinned release.

    Such a phone works, but on plugtone's essentials rather than the release's own
    files (or, if it runs a stored release that has them, on files plugtone gives it
    only as long as it keeps reporting that release).
    """
    release = phone.firmware
    if release is not None and listed_files(release):
        return []
    if release is None:
        why = "it is not pinned to a release"
    else:
        why = f"its pinned release {release.version} holds none its own master file lists"
    return [
        Finding(
            f"no stock files (sip.cfg, phone1.cfg): {why}, so its site file carries "
            "plugtone's essentials instead of the release's own files; add the release "
            "from the vendor's zip (plugtone firmware add keeps its .cfg files) and pin it",
            refuse=False,
        )
    ]


def _config_files(name: str, content: bytes) -> list[str]:
    """The entries of a master file's ``CONFIG_FILES``, as written."""
    try:
        root = SafeET.fromstring(content)
    except Exception as error:  # defusedxml raises several kinds, ParseError among them
        raise ValueError(
            f"{name}: the release's own master file is not readable XML ({error})"
        ) from None
    for element in root.iter():
        listed = element.attrib.get("CONFIG_FILES")
        if listed is not None:
            return [entry.strip() for entry in listed.split(",") if entry.strip()]
    return []


def _unreadable(name: str) -> bytes:
    raise ValueError(f"{name}: not readable here")
