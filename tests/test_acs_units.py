"""ACS logic in process: the VoiceService root read from a tree, spread inform times,
the derived connection-request login, roles, and task retries with back-off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from plugtone.acs import records, service, tasks
from plugtone.acs.datamodel import Tree, connection_login, inform_time
from plugtone.acs.models import AcsTask
from plugtone.inventory.models import AuditEntry
from plugtone.services.actors import Actor, Role, local_admin
from plugtone.services.errors import Denied, Invalid, NotFound
from tests.emulators.cpe import GUIDE_ROOT, SEED_ROOT, seed_tree


@pytest.mark.parametrize("root", [SEED_ROOT, GUIDE_ROOT])
def test_the_voice_root_is_the_one_the_tree_has(root):
    names = {name: p.writable for name, p in seed_tree("00085D000001", "S", "6757i", "1", root,
                                                        4).items()}  # fmt: skip
    tree = Tree(names)
    assert tree.voice_root == root
    assert tree.management_root == "Device.ManagementServer."
    assert tree.voice("VoiceProfile.4.Line.1.SIP.AuthUserName") == (
        root + "VoiceProfile.4.Line.1.SIP.AuthUserName"
    )
    assert tree.voice("VoiceProfile.5.Line.1.SIP.AuthUserName") is None  # a 4-line model
    assert tree.has_voice("VoiceProfile.4.") and not tree.has_voice("VoiceProfile.5.")


def test_inform_times_spread_a_fleet_over_the_interval():
    offsets = {inform_time(f"00085D{index:06X}", 3600).timestamp() % 3600 for index in range(500)}
    assert len(offsets) > 400  # 500 phones, hardly any in the same second
    assert inform_time("00085D000001", 3600) == inform_time("00085D000001", 3600)


def test_the_connection_login_is_per_phone_and_stable():
    one = connection_login("00085D000001", "s3cret")
    assert one == connection_login("00085D000001", "s3cret")
    assert one[1] != connection_login("00085D000002", "s3cret")[1]
    assert one[1] != connection_login("00085D000001", "other")[1]


def _device(store) -> int:
    record = records.inform(
        store, oui="00085D", serial="UNIT1", product_class="6757i", manufacturer="Aastra",
        software_version="1", connection_request_url=None, mac="00085D000009",
        events=["0 BOOTSTRAP"], parameter_key=None, address=None,
    )  # fmt: skip
    return record.id


def test_tasks_need_the_operator_role_and_valid_arguments(store):
    _device(store)
    viewer = Actor("vera", Role.VIEWER, "api")
    with pytest.raises(Denied):
        service.queue(store, viewer, "00085D000009", "reboot")
    with pytest.raises(Invalid):
        service.queue(store, local_admin(), "00085D000009", "set", name="Device.X.")
    with pytest.raises(Invalid):
        service.queue(store, local_admin(), "00085D000009", "explode")
    with pytest.raises(NotFound):
        service.queue(store, local_admin(), "00085D0000FE", "reboot")
    info, found, _ = service.device(store, viewer, "00:08:5d:00:00:09")
    assert info.product_class == "6757i" and found == []
    service.queue(store, local_admin(), "00085D000009", "set",
                  name="Device.ManagementServer.Password", value="hunter2")  # fmt: skip
    with store.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.kind == "acs-task")).one()
    assert entry.key == "00085D000009" and "hunter2" not in (entry.summary or "")
    assert "set name=Device.ManagementServer.Password" in entry.summary


def test_a_transient_fault_is_retried_with_back_off_then_fails(store):
    device_id = _device(store)
    queued = service.queue(store, local_admin(), "00085D000009", "backup")
    second = service.queue(store, local_admin(), "00085D000009", "reboot")
    waits = []
    for attempt in range(1, tasks.MAX_ATTEMPTS + 1):
        head = tasks.next_task(store, device_id)
        assert head is not None and head.id == queued.id  # the later task waits its turn
        tasks.start(store, head.id)
        status = tasks.fail(store, head.id, 9011, "9011 upload failure")
        if attempt < tasks.MAX_ATTEMPTS:
            assert status == "queued"
            assert tasks.next_task(store, device_id) is None  # backing off
            with store.sessions() as session:
                row = session.get(AcsTask, head.id)
                waits.append(records._aware(row.not_before) - records.now())
                session.execute(update(AcsTask).where(AcsTask.id == head.id)
                                .values(not_before=None))  # fmt: skip
                session.commit()
        else:
            assert status == "failed"
    assert waits[0] < waits[1] < waits[2] and waits[0] > timedelta(seconds=20)
    assert tasks.next_task(store, device_id).id == second.id
    final = service.task(store, local_admin(), queued.id)
    assert (
        final.status == "failed" and final.fault_code == 9011 and "upload failure" in final.message
    )
    # a fault that will not pass fails at once
    tasks.start(store, second.id)
    assert tasks.fail(store, second.id, 9005, "9005 invalid parameter name") == "failed"


SITE = """\
sites:
  - name: hq
    sip_server: 10.0.0.5
    tr069: {enabled: true, bootstrap_username: acs, bootstrap_password: "s3cret"}
  - name: old
    sip_server: 10.0.0.6
    tr069: {enabled: true, bootstrap_username: legacy, bootstrap_password: "l3gacy",
            allow_basic: true}
"""


def _inform_request(secure: bool, user: str, password: str, serial: str):
    import base64

    from plugtone.acs.endpoint import Request
    from tests.emulators.cpe import Cpe, envelope

    cpe = Cpe("http://x/cwmp", "00085D0000D1", serial=serial)
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    return Request(
        body=envelope(cpe.inform_body(), "1"), client="192.0.2.7", port=4000, secure=secure,
        target="/cwmp", host="acs.example", authorization=[f"Basic {basic}"], cookies=[],
        content_encoding=None,
    )  # fmt: skip


def test_basic_auth_only_over_tls_or_where_the_site_allows_it(store, tmp_path):
    from plugtone.acs.endpoint import AcsApp
    from plugtone.provisioning.device_auth import DigestAuthority
    from plugtone.vendors import default_registry
    from tests.conftest import apply_text

    apply_text(store, SITE, name="i.yaml")
    app = AcsApp(store, default_registry(), DigestAuthority(lambda: b"k" * 32), data_dir=tmp_path)
    plain = app.handle(_inform_request(False, "acs", "s3cret", "B1"))
    assert plain[0] == 401 and any(name == b"www-authenticate" for name, _ in plain[1])
    assert app.handle(_inform_request(True, "acs", "s3cret", "B2"))[0] == 200
    assert app.handle(_inform_request(True, "acs", "wrong", "B3"))[0] == 401
    assert app.handle(_inform_request(False, "legacy", "l3gacy", "B4"))[0] == 200


def test_the_endpoint_drives_each_session_through_one_cwmp_session(store, tmp_path):
    """IDs, matching and the end are the session machine's: the ACS's requests carry its
    IDs, a response under another ID is refused with a fault and ends the session (its
    cookie opens nothing more), and a new Inform opens a fresh one."""
    from dataclasses import replace

    from plugtone.acs.endpoint import AcsApp
    from plugtone.protocols import cwmp as c
    from plugtone.provisioning.device_auth import DigestAuthority
    from plugtone.vendors import default_registry
    from tests.conftest import apply_text

    apply_text(store, SITE, name="i.yaml")
    app = AcsApp(store, default_registry(), DigestAuthority(lambda: b"k" * 32), data_dir=tmp_path)
    inform = _inform_request(True, "acs", "s3cret", "S1")
    status, headers, _ = app.handle(inform)
    cookie = dict(headers)[b"set-cookie"].decode().split(";")[0].split("=", 1)[1]
    later = replace(inform, body=b"", authorization=[], cookies=[cookie])
    status, headers, body = app.handle(later)
    request = c.parse(body)
    assert status == 200 and isinstance(request.body, c.GetParameterValues)  # the MAC
    (session,) = app.sessions.by_token.values()
    assert session.cwmp.outstanding == request.body and request.id
    wrong = c.build(c.Envelope(body=c.GetParameterValuesResponse(parameters=[]), id="other"))
    status, _, body = app.handle(replace(later, body=wrong))
    assert status == 500 and c.parse(body).body.code == 8003
    assert not app.sessions.by_token and session.cwmp.finished
    assert app.handle(later)[0] == 403
    assert app.handle(replace(inform, cookies=[cookie]))[0] == 200  # a new Inform: a new session
