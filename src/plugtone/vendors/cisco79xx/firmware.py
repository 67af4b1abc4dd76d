"""Cisco 7940/7960 SIP firmware: the files of a release, what they are, and which name
each configuration file must carry.

A SIP release for these phones (``cmterm-7940-7960-sip.8-12-00.zip``) holds:

- ``P0S3-8-12-00.loads``: the image. Its name without extension is the *image name*
  that ``image_version``, ``XMLDefault.cnf.xml`` and ``OS79XX.TXT`` give; the phone
  fetches it first and reads from it which files make up the release.
- ``P0S3-8-12-00.sb2``: the signed SIP application the ``.loads`` names.
- ``P003-8-12-00.sbn``: the signed universal application loader, fetched right after
  the ``.loads`` and flashed before the application (julianhead/CiscoPhones
  ``tftplog``: ``P0S3-8-12-00.loads`` -> ``P003-8-12-00.sbn`` -> after the reboot
  ``P0S3-8-12-00.sb2``).
- ``P003-8-12-00.bin``: the same loader unsigned, for phones older than the signed
  images. Older SIP zips also carried the application as ``P0S3-...bin``.

The third character of a name is the protocol (``S`` SIP, ``0`` SCCP, ``M`` MGCP) and the
fourth the platform (``3``: 7940/7960), so every name of this family matches
:data:`IMAGE_NAME`, and the 7910's ``P004...`` or a 79x1's ``SIP41...`` do not.

**What ``OS79XX.TXT`` holds: the image name (``P0S3-8-12-00``), not the loader's.**
Cisco's "Cisco IP Phone 7960 and 7940 Firmware Upgrade Matrix" (section "Original Boot
Mechanism for Firmware Image Selection") says the file holds "the image name of the
protocol that you select to run", ``P0S3-xx-y-zz`` for SIP, and that the phone compares
the first four characters with the protocol it runs: equal means "carry on with the
current protocol". A loader name (``P003-...``) starts like an SCCP load (``P003...``),
so an SCCP phone reading it would see no protocol change and stay on SCCP. The working
TFTP tree in julianhead/CiscoPhones serves ``P0S3-8-12-00`` in ``OS79XX.TXT`` and the
same name in ``XMLDefault.cnf.xml``, which its phones followed to the ``.loads``. (Some
guides put ``P003-8-12-00`` there; the four-character rule says that cannot switch an
SCCP phone.) Phones with the universal loader no longer read the file; once a SIP image
runs, ``image_version`` decides (Cisco document 72029).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from plugtone.vendors.base import FirmwareView, PhoneView, path_basename

IMAGE_NAME = re.compile(r"^P0[0-9A-Z]3[-0-9A-Z]+$", re.IGNORECASE)
"""An image name of the 7940/7960 platform, without extension."""
SIP_PREFIX = "P0S3"
"""What every SIP image name starts with; SCCP (``P003``) and MGCP (``P0M3``) images
would take the phone off SIP, and off everything this plug-in provisions."""

LOADS = "loads"
APPLICATION = "application"
LOADER = "loader"
LOADER_BIN = "loader-bin"
APPLICATION_BIN = "application-bin"

_ROLES_BY_SUFFIX = {".loads": LOADS, ".sb2": APPLICATION, ".sbn": LOADER}


def basename(path: str) -> str:
    """The last segment of ``path``: zip members and requests may sit in folders."""
    return path_basename(path)


def split_name(name: str) -> tuple[str, str] | None:
    """``(image name, lower-case extension)`` of a release file name, else ``None``."""
    base = basename(name)
    stem, dot, suffix = base.rpartition(".")
    if not dot or not IMAGE_NAME.match(stem):
        return None
    return stem, f".{suffix.lower()}"


def role(name: str) -> str | None:
    """The role of ``name`` in a 7940/7960 release, ``None`` for anything else.

    Only image files have a role: a zip's ``OS79XX.TXT`` or readme is left out, since
    plugtone writes ``OS79XX.TXT`` itself from the pin.
    """
    parts = split_name(name)
    if parts is None:
        return None
    stem, suffix = parts
    if suffix == ".bin":
        return APPLICATION_BIN if _is_sip(stem) else LOADER_BIN
    return _ROLES_BY_SUFFIX.get(suffix)


def release_problems(
    models: Sequence[str], known: Iterable[str], names: Sequence[str]
) -> list[str]:
    """Why these files cannot be one release for ``models`` (empty when they can).

    ``known`` are the model names this plug-in serves. A release needs one image
    (``.loads``) of the SIP protocol, the application it names (the ``.sb2`` of the same
    name) and one signed loader (``.sbn``), which the phone fetches right after the
    ``.loads`` (julianhead/CiscoPhones ``tftplog``). Which ``.sbn`` the ``.loads`` names
    cannot be read from its name, so any one loader is accepted.
    """
    known_models = set(known)
    problems = [
        f"{model} is not a Cisco 7940/7960 model" for model in models if model not in known_models
    ]
    by_role: dict[str, list[str]] = {}
    for name in names:
        found = role(name)
        if found is not None:
            by_role.setdefault(found, []).append(basename(name))
    loads = by_role.get(LOADS, [])
    if not loads:
        problems.append("no .loads file: a 7940/7960 release is named by its P0S3-....loads")
        return problems
    if len(loads) > 1:
        problems.append(f"more than one .loads ({', '.join(sorted(loads))}): one image a release")
        return problems
    image = loads[0].rpartition(".")[0]
    if not _is_sip(image):
        problems.append(
            f"{image} is not a SIP image (SIP images start with {SIP_PREFIX}; P003 is SCCP,"
            " P0M3 MGCP): the phone would leave SIP"
        )
    applications = {name.lower() for name in by_role.get(APPLICATION, [])}
    if f"{image}.sb2".lower() not in applications:
        problems.append(f"no {image}.sb2: the application {image}.loads names")
    loaders = sorted({name.rpartition(".")[0] for name in by_role.get(LOADER, [])}, key=str.lower)
    if not loaders:
        problems.append("no loader (.sbn, e.g. P003-8-12-00.sbn): the phone fetches it first")
    elif len({loader.lower() for loader in loaders}) > 1:
        problems.append(f"more than one loader ({', '.join(loaders)}): the .loads names one")
    return problems


def image_name(release: FirmwareView) -> str | None:
    """The release's image name (its ``.loads`` without extension), as stored."""
    for item in release.files:
        parts = split_name(item.name)
        if parts is not None and parts[1] == ".loads":
            return basename(item.name).rpartition(".")[0]
    return None


def pinned_image(phone: PhoneView | None) -> str | None:
    """The image name ``phone`` must run, or ``None`` to leave its firmware alone.

    Checked again here although the resolver pins only matching releases: naming an
    image in a file a model is not meant for would make that phone fetch it.
    """
    if phone is None or phone.firmware is None:
        return None
    release = phone.firmware
    if release.vendor != phone.vendor or phone.model not in release.models:
        return None
    return image_name(release)


def same_version(running: str, pinned: str) -> bool:
    """Whether two ways of writing a release name the same one.

    Cisco's readmes write ``P0S3-08-12-00`` where the files say ``P0S3-8-12-00``, and
    admins type ``8.12``: the image prefix, separators, leading zeros and trailing zero
    parts are not part of the version.
    """
    return _version_key(running) == _version_key(pinned)


def _version_key(text: str) -> tuple[str | int, ...]:
    bare = text.strip().lower()
    if IMAGE_NAME.match(bare):
        bare = bare[len(SIP_PREFIX) :]
    parts = [part for part in re.split(r"[-._\s]+", bare) if part]
    key: list[str | int] = [int(part) if part.isdigit() else part for part in parts]
    while len(key) > 1 and key[-1] == 0:
        key.pop()
    return tuple(key)


def _is_sip(stem: str) -> bool:
    return stem.upper().startswith(SIP_PREFIX)
