"""Accounts, tokens, roles and the audit trail of the service layer, on both stores.

Every change goes through one unit of work: a caller whose role does not allow a
change gets ``Denied`` and the store is left exactly as it was; every change that
lands leaves audit rows that never hold a password.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from plugtone.inventory.document import parse_document
from plugtone.inventory.models import ApiToken, AuditEntry, Extension, Phone, Site, User
from plugtone.inventory.store import read_generation
from plugtone.inventory.yaml_source import load_located
from plugtone.services import accounts
from plugtone.services.actors import Actor, Role
from plugtone.services.errors import Conflict, Denied, Invalid, NotFound, Unauthenticated
from plugtone.services.inventory import apply_inventory
from tests.conftest import run_cli

ROOT = Actor("root-admin", Role.ADMIN, "cli")
SIP_SECRET = "Sip-Secret-4711"

SITE_AND_PHONE = f"""
sites:
  - name: hq
    sip_server: 10.0.0.1
extensions:
  - {{number: "3003", site: hq, name: Front Desk, password: {SIP_SECRET}}}
phones:
  - {{mac: 00:08:5D:00:00:01, model: 6757i, site: hq, lines: ["3003"]}}
"""


def document(text: str, registry):
    parsed, problems = parse_document(load_located(text, "test.yaml"), registry)
    assert problems == []
    return parsed


def counts(store) -> tuple[int, int, int, int]:
    with store.sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Site, Extension, Phone, AuditEntry)
        )


def audit_rows(store) -> list[AuditEntry]:
    with store.sessions() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_users_passwords_and_the_last_admin(store):
    accounts.add_user(store, ROOT, "alice", "operator", "correct horse 1")
    assert accounts.verify_password(store, "alice", "correct horse 1") == Actor(
        "alice", Role.OPERATOR, "ui"
    )
    assert accounts.verify_password(store, "alice", "wrong password") is None
    assert accounts.verify_password(store, "nobody", "correct horse 1") is None
    with store.sessions() as session:
        stored = session.scalar(select(User.password_hash).where(User.name == "alice"))
    assert stored.startswith("$argon2id$") and "correct horse" not in stored

    with pytest.raises(Conflict):
        accounts.add_user(store, ROOT, "alice", "viewer", "another pass 1")
    with pytest.raises(Invalid) as short:
        accounts.add_user(store, ROOT, "bob", "viewer", "short")
    assert short.value.problems[0].where == "password"
    with pytest.raises(Invalid):
        accounts.add_user(store, ROOT, "bad name!", "viewer", "long enough 1")
    with pytest.raises(Invalid):
        accounts.add_user(store, ROOT, "carol", "superuser", "long enough 1")

    accounts.add_user(store, ROOT, "admin", "admin", "admin password 1")
    with pytest.raises(Conflict, match="last admin"):
        accounts.remove_user(store, ROOT, "admin")
    with pytest.raises(Conflict, match="last admin"):
        accounts.set_role(store, ROOT, "admin", "viewer")
    alice = Actor("alice", Role.OPERATOR, "api")
    accounts.set_password(store, alice, "alice", "new horse pass")
    assert accounts.verify_password(store, "alice", "new horse pass") is not None
    with pytest.raises(Denied):
        accounts.set_password(store, alice, "admin", "taken over 12")
    assert accounts.verify_password(store, "admin", "admin password 1") is not None
    accounts.remove_user(store, ROOT, "alice")
    with pytest.raises(NotFound):
        accounts.remove_user(store, ROOT, "alice")
    assert [user.name for user in accounts.list_users(store, ROOT)] == ["admin"]

    trail = [(row.action, row.kind, row.key) for row in audit_rows(store)]
    assert trail == [
        ("create", "user", "alice"),
        ("create", "user", "admin"),
        ("update", "user", "alice"),
        ("delete", "user", "alice"),
    ]
    text = json.dumps([[r.summary, r.before, r.after] for r in audit_rows(store)])
    assert "horse" not in text and "admin password" not in text


def test_tokens_are_shown_once_stored_hashed_expire_and_revoke(store):
    accounts.add_user(store, ROOT, "ops", "operator", "operator pass 1")
    token, view = accounts.create_token(store, ROOT, "ops", expires_days=30)
    assert token.startswith("pt_") and len(token) > 40
    assert view.prefix == token[:9] and view.state == "active"
    with store.sessions() as session:
        row = session.scalar(select(ApiToken))
        assert token not in (row.token_sha256, row.prefix) and len(row.token_sha256) == 64
    assert accounts.authenticate_token(store, token) == Actor("ops", Role.OPERATOR, "api")
    for wrong in ("", "pt_nope", token[:-1], "Bearer " + token, "x" * 500):
        with pytest.raises(Unauthenticated):
            accounts.authenticate_token(store, wrong)

    expired, _ = accounts.create_token(store, ROOT, "ops", expires_days=1)
    with store.sessions() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.token_sha256 == accounts._digest(expired))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()
    with pytest.raises(Unauthenticated, match="expired"):
        accounts.authenticate_token(store, expired)

    viewer = Actor("someone", Role.VIEWER, "api")
    with pytest.raises(Denied):
        accounts.revoke_token(store, viewer, str(view.id))
    accounts.revoke_token(store, ROOT, view.prefix + "...")
    with pytest.raises(Unauthenticated, match="revoked"):
        accounts.authenticate_token(store, token)
    states = {t.id: t.state for t in accounts.list_tokens(store, ROOT)}
    assert states[view.id] == "revoked" and "expired" in states.values()
    everything = json.dumps([[r.key, r.summary] for r in audit_rows(store)])
    assert token not in everything and expired not in everything


def test_roles_are_enforced_for_every_inventory_change(store, registry):
    viewer = Actor("v", Role.VIEWER, "api")
    operator = Actor("o", Role.OPERATOR, "api")
    before = counts(store)
    with pytest.raises(Denied):
        apply_inventory(store, viewer, document(SITE_AND_PHONE, registry), registry)
    # an operator may change phones and extensions, but creating a site is an admin's
    with pytest.raises(Denied, match="site"):
        apply_inventory(store, operator, document(SITE_AND_PHONE, registry), registry)
    assert counts(store) == before
    with store.sessions() as session:
        assert read_generation(session) == 0

    apply_inventory(store, ROOT, document(SITE_AND_PHONE, registry), registry)
    moved = SITE_AND_PHONE.replace("name: Front Desk", "name: Reception")
    result = apply_inventory(store, operator, document(moved, registry), registry)
    assert [(c.action, c.kind) for c in result.changes] == [("update", "extension")]
    trail = audit_rows(store)
    assert {(row.actor, row.via) for row in trail} == {("root-admin", "cli"), ("o", "api")}
    assert len({row.batch for row in trail}) == 2
    assert SIP_SECRET not in json.dumps(
        [[r.summary, r.before, r.after, r.key] for r in trail], default=str
    )


def test_a_dry_run_and_a_refused_apply_change_nothing_and_audit_nothing(store, registry):
    result = apply_inventory(
        store, ROOT, document(SITE_AND_PHONE, registry), registry, dry_run=True
    )
    assert {change.kind for change in result.changes} >= {"site", "extension", "phone"}
    assert counts(store) == (0, 0, 0, 0)
    broken = SITE_AND_PHONE.replace('lines: ["3003"]', 'lines: ["9999"]')
    with pytest.raises(Invalid) as refused:
        apply_inventory(store, ROOT, document(broken, registry), registry)
    assert "no extension '9999'" in str(refused.value.problems[0])
    assert counts(store) == (0, 0, 0, 0)


def test_init_creates_the_first_admin_once(tmp_path):
    data = tmp_path / "data"
    first = run_cli("init", data=data)
    line = next(line for line in first.stdout.splitlines() if "admin user" in line)
    password = line.rsplit(": ", 1)[1]
    assert len(password) >= 12
    again = run_cli("init", data=data)
    assert "admin user" not in again.stdout
    listed = run_cli("user", "list", data=data).stdout
    assert listed.split("\n")[1].split()[:2] == ["admin", "admin"]

    given = tmp_path / "given"
    env = {"PLUGTONE_ADMIN_PASSWORD": "from the environment", "PATH": "/usr/bin:/bin"}
    out = run_cli("init", data=given, env=env).stdout
    assert "from the environment" not in out and "PLUGTONE_ADMIN_PASSWORD" in out


def test_user_and_token_commands(tmp_path):
    data = tmp_path / "data"
    run_cli("init", data=data)
    secret = tmp_path / "pw"
    secret.write_text("viewer password 1\n")
    run_cli("user", "add", "val", "--role", "viewer", "--password-file", str(secret), data=data)
    created = run_cli("token", "create", "--user", "val", "--expires", "7", data=data)
    token = created.stdout.strip()
    assert token.startswith("pt_") and "\n" not in token
    assert "shown once" in created.stderr and token not in created.stderr
    listed = run_cli("token", "list", data=data).stdout
    assert token not in listed and token[:9] + "..." in listed and "active" in listed
    run_cli("token", "revoke", token[:9], data=data)
    assert "revoked" in run_cli("token", "list", data=data).stdout
    refused = run_cli("user", "add", "val", "--role", "viewer", "--password-file",
                      str(secret), data=data, check=False)  # fmt: skip
    assert refused.returncode != 0 and "already exists" in refused.stderr
    assert "Traceback" not in refused.stderr and "viewer password" not in refused.stderr
    run_cli("user", "role", "val", "operator", data=data)
    assert "operator" in run_cli("user", "list", data=data).stdout
    run_cli("user", "remove", "val", data=data)
    assert "val" not in run_cli("user", "list", data=data).stdout
