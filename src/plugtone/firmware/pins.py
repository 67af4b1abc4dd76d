"""Which release a phone should run: the most specific pin wins, staged pins wait.

Pure functions over small frozen rows, so the same rule serves the resolver (one
phone at a time), ``plugtone phones --firmware`` and the wave chosen for a staged
roll-out (many phones at once), and is tested without a database.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
"""Release versions are file-system and URL safe: they appear in served paths."""
NONE = "none"
"""The pin value meaning "leave the phone's firmware alone"."""

LEVELS = ("phone", "site", "model")


@dataclass(frozen=True)
class Pin:
    """One pin as resolution needs it (see ``inventory.models.FirmwarePin``)."""

    level: str
    version: str
    applies_to: str | None = None
    previous_version: str | None = None
    first_wave: str | None = None
    wave: frozenset[str] = frozenset()
    promoted: bool = False
    id: int | None = None

    @property
    def staged(self) -> bool:
        return self.first_wave is not None and not self.promoted


@dataclass(frozen=True)
class Target:
    """The outcome for one phone: a version (or none) and the pin that decided it."""

    version: str | None
    pin: Pin | None = None
    waiting: bool = False
    """The deciding pin is staged and the phone is not in its first wave."""


def ordered(pins: Iterable[Pin], vendor: str, model: str) -> list[Pin]:
    """Pins that may apply to a phone, most specific first.

    Phone pins, then site pins (for the model, for the vendor, for any phone), then
    model pins. A pin for another vendor or model is left out.
    """

    def rank(pin: Pin) -> tuple[int, int]:
        level = LEVELS.index(pin.level)
        if pin.applies_to is None:
            return level, 2
        return level, 0 if pin.applies_to == model else 1

    return sorted(
        (pin for pin in pins if pin.applies_to in (None, vendor, model)),
        key=rank,
    )


def target(pins: Sequence[Pin], mac: str, vendor: str, model: str) -> Target:
    """The version ``mac`` should run under ``pins`` (any order, any owners)."""
    for pin in ordered(pins, vendor, model):
        if pin.version == NONE:
            return Target(None, pin)
        if pin.staged and mac not in pin.wave:
            if pin.previous_version and pin.previous_version != NONE:
                return Target(pin.previous_version, pin, waiting=True)
            if pin.previous_version == NONE:
                return Target(None, pin, waiting=True)
            continue
        return Target(pin.version, pin)
    return Target(None)


def governing(pins: Sequence[Pin], vendor: str, model: str) -> Pin | None:
    """The pin that governs a phone, staging aside (whose wave the phone may join)."""
    candidates = ordered(pins, vendor, model)
    return candidates[0] if candidates else None


def choose_wave(spec: str, version: str, targets: Iterable[str]) -> frozenset[str]:
    """The first wave of a staged pin: ``N%`` of ``targets`` or an explicit MAC list.

    A percentage takes ``ceil(N% of the set)`` phones (at least one of a non-empty
    set) ordered by a hash of version and MAC: the choice is spread across sites and
    models, stable for one version, and different from one version to the next.
    """
    macs = sorted(set(targets))
    percent = parse_percent(spec)
    if percent is None:
        return frozenset()
    count = math.ceil(len(macs) * percent / 100)
    ranked = sorted(macs, key=lambda mac: hashlib.sha256(f"{version}/{mac}".encode()).digest())
    return frozenset(ranked[:count])


def parse_percent(spec: str) -> float | None:
    """``"10%"`` -> 10.0; anything else (including 0% and 100%+) -> ``None``."""
    text = spec.strip()
    if not text.endswith("%"):
        return None
    try:
        value = float(text[:-1])
    except ValueError:
        return None
    return value if 0 < value < 100 else None
