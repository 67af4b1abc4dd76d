"""The admin API's published schema: in step with the inventory file, and honest.

The API's bodies are the inventory file's entries, checked by the file's checker; the
OpenAPI document describes them separately (for clients and for schemathesis). The
first tests fail when a field exists in one and not the other. The last runs
schemathesis against a real server: every response, to any input it can generate,
must be documented and match its schema, and none may be a 5xx.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from plugtone.inventory import document as file_format
from plugtone.inventory.document import _Checker
from plugtone.services.json_source import FieldPaths
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, run_cli, start_server, stop_server


def checker_fields(entry: str) -> set[str]:
    """The fields the file's checker allows in one kind of entry.

    From ``SITE_FIELDS``/``EXTENSION_FIELDS``/``PHONE_FIELDS`` where ``document.py`` has
    them; else as the checker itself lists them when it refuses an unknown field.
    """
    constant = {"site": "SITE_FIELDS", "extension": "EXTENSION_FIELDS", "phone": "PHONE_FIELDS"}
    if entry in constant and hasattr(file_format, constant[entry]):
        return set(getattr(file_format, constant[entry]))
    checker = _Checker(FieldPaths({}), default_registry())
    probe = {"zz_no_such_field": 1}
    readers = {
        "site": lambda: checker.site(probe, ("sites", 0)),
        "extension": lambda: checker.extension(probe, ("extensions", 0)),
        "phone": lambda: checker.phone(probe, ("phones", 0)),
        "branding": lambda: checker.branding(probe, ("branding", 0)),
        "model": lambda: checker.model_defaults(probe, ("models", 0)),
        "key": lambda: checker.keys([probe], ("keys",)),
        "contact": lambda: checker.directory([probe], ("directory",)),
        "ftp_account": lambda: checker.ftp_account(probe, ("ftp_account",)),
        "pin": lambda: checker.pin(probe, ("firmware",)),
        "branding_file": lambda: checker.stored_branding_file(probe, ("files", 0)),
    }
    readers[entry]()
    for problem in checker.problems:
        found = re.search(r"unknown field 'zz_no_such_field' \(allowed: ([^)]*)\)", problem.message)
        if found:
            return {name.strip() for name in found.group(1).split(",")}
    raise AssertionError(f"the checker named no allowed fields for {entry}: {checker.problems}")


SCHEMAS = {
    "site": "SiteEntry", "extension": "ExtensionEntry", "phone": "PhoneEntry",
    "branding": "BrandingEntry", "model": "ModelEntry", "key": "KeyEntry",
    "contact": "Contact", "ftp_account": "FtpAccount", "pin": "PinEntry",
    "branding_file": "BrandingFileRef",
}  # fmt: skip


@pytest.fixture(scope="module")
def openapi() -> dict:
    from plugtone.inventory.store import Store
    from plugtone.settings import load_settings
    from plugtone.web.app import create_admin_app

    store = Store("sqlite://")
    try:
        return create_admin_app(store, default_registry(), load_settings()).openapi()
    finally:
        store.dispose()


@pytest.mark.parametrize("entry", sorted(SCHEMAS))
def test_api_schema_has_exactly_the_inventory_files_fields(openapi, entry):
    published = openapi["components"]["schemas"][SCHEMAS[entry]]
    assert set(published["properties"]) == checker_fields(entry)
    assert published.get("additionalProperties") is False  # unknown fields are refused


def test_the_document_schema_has_the_files_sections(openapi):
    published = openapi["components"]["schemas"]["InventoryDocument"]["properties"]
    assert set(published) == set(file_format.TOP_LEVEL)


def test_the_published_document_is_openapi_30(openapi):
    """Swagger UI 4 (the bundled docs) reads 3.0 only: no 3.1 constructs may remain."""
    text = str(openapi)
    assert openapi["openapi"] == "3.0.3"
    assert "'type': 'null'" not in text and "'const'" not in text and "'examples'" not in text
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                if status == "default" or int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (
                        path, method, status,
                    )  # fmt: skip


SCHEMATHESIS_CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance,ignored_auth"
)


def test_schemathesis_finds_no_5xx_and_no_response_off_its_schema(tmp_path):
    """Fuzz every operation with an admin token (a bounded number of cases each).

    Left out: revoking tokens and changing or removing users, which would revoke the
    token the run uses or demote its admin; their own tests cover them.
    """
    data = tmp_path / "data"
    server = start_server(data, admin=True)
    try:
        run_cli("apply", str(EXAMPLE), data=data)
        token = run_cli("token", "create", "--user", "admin", data=data).stdout.strip()
        url = f"{server.admin_base}/api/openapi.json"
        assert httpx.get(url, timeout=10).status_code == 200
        command = [
            str(Path(sys.executable).with_name("st")), "run", url,
            "--header", f"Authorization: Bearer {token}",
            "--checks", SCHEMATHESIS_CHECKS,
            "--max-examples", "15", "--phases", "examples,coverage,fuzzing",
            "--seed", "20261201", "--workers", "1", "--no-color",
            "--generation-database", "none", "--request-timeout", "30",
            "--exclude-operation-id", "revoke_token_api_tokens__token_id__delete",
            "--exclude-path-regex", "^/api/users/",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                                cwd=tmp_path)  # fmt: skip
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
        assert " passed" in result.stdout
    finally:
        stop_server(server)
    log = (data / "serve.log").read_text()
    assert "Traceback" not in log and "sqlalchemy" not in log.lower()
