"""Polycom SIP 3.x firmware: which files of a release matter, where phones find them.

A release, as the vendor ships it, is an application, a BootROM, or both:

- the application: one combined ``sip.ld`` for every model, or a "split" release with
  one ``<part number>.sip.ld`` per model (``2345-12600-001.sip.ld`` for the IP 650);
- the BootROM: ``bootrom.ld`` or ``<part number>.bootrom.ld``;
- ``sip.ver`` and ``bootrom.ver``, short text files naming the version.

- the stock configuration files, ``sip.cfg``, ``phone1.cfg`` and any other ``.cfg``,
  with the release's own master file ``000000000000.cfg``: see :mod:`.stock`.

Everything else in the vendor's zip (wallpapers, ring tones, dictionaries) has no
role here and is left out when a release is added.

Paths phones ask for:

- ``firmware/<version>/<file>``: the master file's ``APP_FILE_PATH`` names the pinned
  application there, so the request itself says which release the phone was sent
  to, and a re-pin changes the path every phone reads. The phone compares the
  image with its flash and downloads only when they differ, so serving the file
  whenever it is asked for is right (the contract's default ``offer_firmware``).
- ``<part number>.bootrom.ld``, ``bootrom.ld``, ``sip.ld``, ``<part number>.sip.ld``,
  ``sip.ver``, ``bootrom.ver`` at the top of the tree: the names the BootROM looks
  for by itself (and what the default ``APP_FILE_PATH="sip.ld"`` names). They carry
  no version; the resolver finds the requester and serves its pinned release's file.

A part-number file names its model, so the ``FileRef`` says which model it is for,
and it is never offered to another model (an IP 335 image would not run on an IP 650
even if one release held both).

The seed deployment (the AltiGen MAXCS 7.0 Polycom guide) supports BootROM 4.2.1 with
SIP application 3.2.7, says moves between versions need the vendor's instructions,
and warns that phones above SIP 3.3.3 (BootROM 4.3.1) may not be supported, as newer
firmware may not downgrade again. :func:`pin_risks` holds pins to that window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from plugtone.vendors.base import FileRef, FileScope, FirmwareView, PhoneView
from plugtone.vendors.polycom.models import BY_NAME, BY_PART_NUMBER
from plugtone.vendors.polycom.stock import stock_role

APPLICATION = "application"
BOOTROM = "bootrom"
VERSION = "version"

COMBINED = {
    "sip.ld": APPLICATION,
    "bootrom.ld": BOOTROM,
    "sip.ver": VERSION,
    "bootrom.ver": VERSION,
}
SPLIT = re.compile(r"(\d{4}-\d{5}-\d{3})\.(sip|bootrom)\.ld", re.I)
SPLIT_ROLES = {"sip": APPLICATION, "bootrom": BOOTROM}
IMAGE_ROLES = frozenset({APPLICATION, BOOTROM, VERSION})
"""Roles of the files asked for as firmware, at the top or under ``firmware/<version>/``."""

SAFE_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
"""A release version as it may appear in a served path: no separators, no ``..``."""
VERSIONED_PATH = re.compile(r"firmware/([^/]+)/([^/]+)", re.I)
DOTTED = re.compile(r"\d+(?:\.\d+)*")

SEED = "the seed's Polycom guide (AltiGen MAXCS 7.0)"
APPLICATION_FLOOR = (3, 2, 7)
"""SIP application the seed pins (with BootROM 4.2.1)."""
APPLICATION_CEILING = (3, 3, 3)
"""Newest SIP application the seed still supports on a phone."""


def firmware_role(name: str) -> str | None:
    """``application``, ``bootrom`` or ``version`` for a release image's name,
    ``configuration`` or ``master`` for a stock file's (see :mod:`.stock`), else ``None``.

    Part-number files count only for part numbers of models plugtone knows: an image
    for a model no inventory can hold would be stored and never served.
    """
    lowered = name.lower()
    if lowered in COMBINED:
        return COMBINED[lowered]
    found = SPLIT.fullmatch(name)
    if found and found.group(1) in BY_PART_NUMBER:
        return SPLIT_ROLES[found.group(2).lower()]
    return stock_role(name)


def file_model(name: str) -> str | None:
    """The model a part-number file is for; ``None`` for a combined file."""
    found = SPLIT.fullmatch(name)
    if not found:
        return None
    model = BY_PART_NUMBER.get(found.group(1))
    return model.spec.name if model else None


def application_names(model: str) -> list[str]:
    """The application files a model can run, its own first (as the BootROM tries them)."""
    spec = BY_NAME.get(model)
    own = [f"{spec.part_number}.sip.ld"] if spec and spec.part_number else []
    return [*own, "sip.ld"]


def check_release(models: Sequence[str], names: Sequence[str]) -> list[str]:
    """One problem per model the release has no application for."""
    present = {name.lower() for name in names}
    problems = []
    for model in models:
        wanted = application_names(model)
        if not any(name in present for name in wanted):
            choices = " or ".join(reversed(wanted))
            problems.append(f"{model}: the release has no application for it ({choices})")
    return problems


def pin_risks(release: FirmwareView) -> list[str]:
    """Why pinning ``release`` could strand phones, measured against the seed's window."""
    version = release.version.strip()
    numbers = _numbers(version)
    floor = _dotted(APPLICATION_FLOOR)
    if numbers is None:
        return [
            f"version {version!r} is not dotted numbers, so plugtone cannot tell whether "
            f"it is below SIP {floor}, the application {SEED} requires"
        ]
    release_line = _pad(numbers)
    if release_line < APPLICATION_FLOOR:
        return [
            f"SIP {version} is older than SIP {floor}, the application {SEED} requires "
            "(with BootROM 4.2.1); the guide moves phones between versions only with the "
            "vendor's instructions, and phones taken below it may not boot the seed's "
            "configuration"
        ]
    if release_line > APPLICATION_CEILING:
        return [
            f"SIP {version} is newer than SIP {_dotted(APPLICATION_CEILING)}, the newest "
            f"{SEED} supports; it warns that newer firmware may not downgrade to "
            f"SIP {floor} again"
        ]
    return []


def version_matches(running: str, pinned: str) -> bool:
    """Whether a reported version is the pinned one, a build of it included.

    Phones report four parts (``3.2.7.0184``) while releases are often named by three,
    as the seed does ("SIP Application 3.2.7"); numbers compare as numbers.
    """
    have, want = _numbers(running.strip()), _numbers(pinned.strip())
    if have is None or want is None or len(want) < 3:
        return running.strip().lower() == pinned.strip().lower()
    return have[: len(want)] == want


def match_firmware(vendor: str, path: str) -> FileRef | None:
    """A FIRMWARE ref for a versioned path or one of the BootROM's fixed names."""
    version = None
    name = path
    if "/" in path:
        found = VERSIONED_PATH.fullmatch(path)
        if not found or not SAFE_VERSION.fullmatch(found.group(1)):
            return None
        version, name = found.groups()
    if firmware_role(name) not in IMAGE_ROLES:
        return None
    return FileRef(
        vendor, name.lower(), FileScope.FIRMWARE, model=file_model(name), version=version
    )


def match_folder(path: str) -> bool:
    """``firmware`` and ``firmware/<version>``: the folders of versioned paths."""
    folder, _, version = path.partition("/")
    return folder.lower() == "firmware" and (not version or bool(SAFE_VERSION.fullmatch(version)))


def pinned_application(phone: PhoneView) -> str | None:
    """``firmware/<version>/<file>`` for the phone's pinned application, if it has one.

    The model's own part-number image when the release has it, else the combined
    ``sip.ld``; ``None`` when the phone is not pinned, the release is not for its
    model, holds no application for it, or has a version no path may carry.
    """
    release = phone.firmware
    if release is None or phone.model not in release.models:
        return None
    if not SAFE_VERSION.fullmatch(release.version):
        return None
    for name in application_names(phone.model):
        if release.file(name) is not None:
            return f"firmware/{release.version}/{name}"
    return None


def _numbers(version: str) -> tuple[int, ...] | None:
    if not DOTTED.fullmatch(version):
        return None
    return tuple(int(part) for part in version.split("."))


def _pad(numbers: tuple[int, ...]) -> tuple[int, ...]:
    """The first three parts (major, minor, patch): a build number is not a newer release."""
    return (*numbers, 0, 0, 0)[:3]


def _dotted(numbers: tuple[int, ...]) -> str:
    return ".".join(map(str, numbers))
