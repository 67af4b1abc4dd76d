"""Aastra/Mitel firmware: ``<model>.st`` images, their names, versions and the loop guard.

An Aastra phone asks for ``<model>.st`` after its configuration files at every boot
(``firmware/6869i.st`` when its config points at a sub-path) and flashes whatever image
it gets, then reboots. A server that keeps the file available therefore makes the phone
download and reboot again and again (the seed's "remove the firmware from the TFTP
directory" warning). The guard here offers the image only while the phone is known to
run another version, or once when its version is unknown, and a few times at most.

Image names: 3.x packages name the image after the full model (``6757i.st``); older
packages use the short token (``57i.st``). Both are the same model's image, so every
name the model table knows for a model (name and aliases) is accepted, in any case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from plugtone.vendors.base import FirmwareFile, FirmwareView, ModelSpec, path_basename

IMAGE_SUFFIX = ".st"
APPLICATION = "application"
"""The role of a ``<model>.st`` image in a release: the phone's whole application."""

MAX_ATTEMPTS = 3
"""Offers of the pinned image per device and pin before plugtone stops offering it.

A phone whose flash fails (power cut, image refused) or which keeps reporting an old
version would otherwise download a multi-megabyte image at every boot forever; three
tries cover a transient failure, and an admin re-pinning starts the count again."""

_VERSION_PREFIX = re.compile(r"^v\s*:?\s*", re.IGNORECASE)
_VERSION_SUFFIX = re.compile(r"-sip$", re.IGNORECASE)


def basename(path: str) -> str:
    """The last segment of ``path``: zip members and requests may sit in folders."""
    return path_basename(path)


def image_model_token(name: str) -> str | None:
    """The model token of an image name (``6757i`` for ``firmware/6757i.ST``), else ``None``."""
    base = basename(name)
    if len(base) <= len(IMAGE_SUFFIX) or not base.lower().endswith(IMAGE_SUFFIX):
        return None
    return base[: -len(IMAGE_SUFFIX)]


def image_names(spec: ModelSpec) -> tuple[str, ...]:
    """Every image name one model may ship under: its own name first, then its aliases."""
    return tuple(f"{token}{IMAGE_SUFFIX}" for token in (spec.name, *spec.aliases))


def normalize_version(text: str) -> str:
    """A version as admins write it when they add a release: ``V:3.2.0.70-SIP`` -> ``3.2.0.70``.

    The User-Agent wraps the version in ``V:`` and ``-SIP``; release versions are typed
    bare, so both sides are reduced to the bare form before they are compared.
    """
    version = _VERSION_PREFIX.sub("", text.strip())
    return _VERSION_SUFFIX.sub("", version).strip()


def same_version(running: str, pinned: str) -> bool:
    """Whether two versions name the same build, ignoring case, ``V:``/``-SIP`` wrapping
    and leading zeros in numeric parts (``3.2.0.070`` is ``3.2.0.70``)."""
    return _version_key(running) == _version_key(pinned)


def _version_key(text: str) -> tuple[str | int, ...]:
    parts = re.split(r"[.]", normalize_version(text).lower())
    return tuple(int(part) if part.isdigit() else part for part in parts)


def missing_images(
    specs: Iterable[tuple[str, ModelSpec | None]], names: Sequence[str]
) -> list[str]:
    """Problems of a release: each model without an image, each model nobody knows.

    ``specs`` pairs every model the release is for with its table entry (``None`` when
    the model is not an Aastra model).
    """
    present = {basename(name).lower() for name in names}
    problems = []
    for model, spec in specs:
        if spec is None:
            problems.append(f"{model} is not an Aastra model")
            continue
        accepted = image_names(spec)
        if not any(name.lower() in present for name in accepted):
            others = f" (or {', '.join(accepted[1:])})" if len(accepted) > 1 else ""
            problems.append(f"no {accepted[0]}{others} for model {model}")
    return problems


def release_image(release: FirmwareView, spec: ModelSpec, requested: str) -> FirmwareFile | None:
    """The release's image for the model of ``spec``.

    The file of the requested name wins when the release holds it; otherwise any name
    of the same model does (a 6757i asking for ``6757i.st`` gets an old package's
    ``57i.st``), in the model table's order.
    """
    by_name = {basename(item.name).lower(): item for item in release.files}
    for name in (basename(requested), *image_names(spec)):
        found = by_name.get(name.lower())
        if found is not None:
            return found
    return None


def should_offer(running_version: str | None, pinned: str, delivered: bool, attempts: int) -> bool:
    """The loop guard: whether a phone in this state gets the pinned image.

    A known version decides: the pinned one gets nothing (this is what ends the loop
    once the phone reboots on the new image), another one gets the image for up to
    :data:`MAX_ATTEMPTS` offers. An unknown version (a TFTP request from a phone never
    seen over HTTP) is served at most once per pin change: once delivered, the phone is
    assumed to run it, since offering again could only start the loop.
    """
    if attempts >= MAX_ATTEMPTS:
        return False
    if running_version is not None:
        return not same_version(running_version, pinned)
    return not delivered
