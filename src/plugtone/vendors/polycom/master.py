"""The Polycom master configuration file (``<MAC>.cfg``, ``000000000000.cfg``).

The master file names the application image (``APP_FILE_PATH``) and the
configuration files the application reads (``CONFIG_FILES``, comma-separated, the
first file listed winning for a parameter set twice). Per-model child elements
(``<APPLICATION_SPIP650 APP_FILE_PATH_SPIP650=... CONFIG_FILES_SPIP650=.../>``)
give one model another image; they repeat the configuration file list so a phone
that takes its model's element still reads plugtone's files.

A phone pinned to a firmware release gets ``APP_FILE_PATH`` (and its own model's
``APP_FILE_PATH_<token>``, when a raw setting wrote one) pointing at the release's
image under ``firmware/<version>/`` (see :mod:`.firmware`).

The upload directories stay empty, so phones put logs, overrides and contact lists
at the top of the tree, where the plug-in's upload names match them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from plugtone.vendors.polycom.xmlfile import document, xml_text

UPLOAD_DIRECTORIES = (
    "LOG_FILE_DIRECTORY",
    "OVERRIDES_DIRECTORY",
    "CONTACTS_DIRECTORY",
    "LICENSE_DIRECTORY",
)


def master_file(
    application: str,
    config_files: Sequence[str],
    per_model: Mapping[str, str],
    notes: Iterable[str],
) -> bytes:
    """The master file; ``per_model`` maps a model token (``SPIP650``) to its image."""
    files = ", ".join(config_files)
    attributes = {"APP_FILE_PATH": xml_text(application), "CONFIG_FILES": files, "MISC_FILES": ""}
    attributes.update(dict.fromkeys(UPLOAD_DIRECTORIES, ""))
    children = [
        (
            f"APPLICATION_{token}",
            {f"APP_FILE_PATH_{token}": xml_text(image), f"CONFIG_FILES_{token}": files},
        )
        for token, image in per_model.items()
    ]
    return document("APPLICATION", attributes, children, notes)
