"""Polycom's master, lines and site files written as text: the bytes ElementTree wrote.

:func:`plugtone.vendors.polycom.xmlfile.document` writes a root and its attribute-only
children without building a tree. These tests hold it, and the two files built on it,
to what ``ET.indent`` + ``ET.tostring`` gave before, byte for byte, on values full of
markup, quotes, whitespace and control characters.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

from defusedxml import ElementTree as SafeET

from plugtone.vendors.polycom.master import UPLOAD_DIRECTORIES, master_file
from plugtone.vendors.polycom.xmlfile import (
    PARAMETER_NAME,
    config_file,
    document,
    serialize,
    xml_text,
)

TRICKY = [*"ab <>&\"'\t\n\r\x00\x01é漢\U0001f600-=/", "--", "]]>", "&amp;", "&#10;", ""]
NAMES = ["reg.1.address", "a", "voIpProt.SIP.local.port", "x_y.z", "1bad", "bad name", "ok.9"]


def tree_config_file(root: str, notes, groups) -> bytes:
    """``config_file`` as it was: an ElementTree, indented and serialised."""
    element = ET.Element(root)
    for tag, parameters in groups:
        attributes = {
            name: xml_text(value)
            for name, value in parameters.items()
            if PARAMETER_NAME.fullmatch(name)
        }
        if attributes:
            ET.SubElement(element, tag, attributes)
    return serialize(element, notes)


def tree_master_file(application, config_files, per_model, notes) -> bytes:
    """``master_file`` as it was."""
    files = ", ".join(config_files)
    attributes = {"APP_FILE_PATH": xml_text(application), "CONFIG_FILES": files, "MISC_FILES": ""}
    attributes.update(dict.fromkeys(UPLOAD_DIRECTORIES, ""))
    root = ET.Element("APPLICATION", attributes)
    for token, image in per_model.items():
        ET.SubElement(
            root,
            f"APPLICATION_{token}",
            {f"APP_FILE_PATH_{token}": xml_text(image), f"CONFIG_FILES_{token}": files},
        )
    return serialize(root, notes)


def test_the_text_is_byte_for_byte_what_elementtree_writes():
    chance = random.Random(5)

    def text(longest: int) -> str:
        return "".join(chance.choice(TRICKY) for _ in range(chance.randint(0, longest)))

    for _ in range(2000):
        groups = [
            (
                chance.choice(["reg", "site", "overrides", "voIpProt"]),
                {chance.choice(NAMES): text(6) for _ in range(chance.choice([0, 1, 2, 5]))},
            )
            for _ in range(chance.choice([0, 0, 1, 2, 4]))
        ]
        notes = [text(8) for _ in range(chance.choice([0, 1, 2]))]
        assert config_file("polycomConfig", notes, groups) == tree_config_file(
            "polycomConfig", notes, groups
        )
        files = [text(5) for _ in range(chance.choice([0, 1, 3]))]
        per_model = {token: text(5) for token in chance.sample(["SPIP650", "SSIP6000"], 2)[
            : chance.choice([0, 1, 2])
        ]}  # fmt: skip
        application, note = text(6), [text(6)]
        assert master_file(application, files, per_model, note) == tree_master_file(
            application, files, per_model, note
        )


def test_values_read_back_as_written():
    """What a phone's parser reads is the value (less what XML cannot carry)."""
    value = "a<b>&c\"d'e\tf\ng\rh\x01"
    content = config_file("polycomConfig", ["note"], [("reg", {"reg.1.label": value})])
    parsed = SafeET.fromstring(content)
    assert parsed.find("reg").get("reg.1.label") == value.replace("\x01", "")  # type: ignore[union-attr]


def test_an_empty_root_is_short():
    assert document("polycomConfig", {}, []).endswith(b"<polycomConfig />\n")
