"""The plug-ins' fast readings of request paths give what the general ones gave.

Every request is matched against every plug-in (twice: the provisioner and the
resolver each ask), so the plug-ins read a file name's 12 hex digits with
:func:`~plugtone.vendors.base.hex_mac` instead of :func:`~plugtone.macaddr.normalize_mac`
and split folders only when a path has any. These hold the fast ones to the general
ones, on every kind of input the patterns can pass them.
"""

from __future__ import annotations

import random
import re

import pytest

from plugtone.macaddr import MacError, normalize_mac
from plugtone.vendors.base import hex_mac, path_basename, path_folders


def general(digits: str) -> str | None:
    try:
        return normalize_mac(digits)
    except MacError:
        return None


def test_hex_mac_is_normalize_mac_on_twelve_hex_digits():
    chance = random.Random(12)
    cases = ["000000000000", "FFFFFFFFFFFF", "0004f2000607", "00085D000001", "01005e000001",
             "0100000000000"[:12], "0000000000001"[:12], "02aBcDeF0123"]  # fmt: skip
    cases += ["".join(chance.choice("0123456789abcdefABCDEF") for _ in range(12))
              for _ in range(5000)]  # fmt: skip
    cases += [f"{first:02x}" + "0" * 10 for first in range(256)]  # every first octet
    for digits in cases:
        assert hex_mac(digits) == general(digits), digits


@pytest.mark.parametrize("seed", range(3))
def test_path_helpers_are_the_regex_split(seed):
    chance = random.Random(seed)
    for _ in range(3000):
        path = "".join(chance.choice(["a", "B", ".", "..", "/", "\\", "x.cfg", ""])
                       for _ in range(chance.randint(0, 6)))  # fmt: skip
        parts = re.split(r"[/\\]", path)
        assert path_basename(path) == parts[-1]
        assert path_folders(path) == parts[:-1]
