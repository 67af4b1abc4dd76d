"""The phone's TR-069 page in process: the device, its tasks with their outcome in words,
a task queued by an operator's form (CSRF), refused to a viewer."""

from __future__ import annotations

import pytest

from plugtone.acs import records, tasks
from tests.test_ui_pages import (  # noqa: F401 - fixtures
    VIEWER_PASSWORD,
    app,
    check_page,
    sign_in,
    sqlite_store,
    token,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
MAC = "00085D000001"  # the example inventory's Aastra phone


def test_the_acs_page_shows_the_device_and_queues_a_task(app, sqlite_store):  # noqa: F811
    admin = sign_in(app)
    unknown = admin.get(f"/phones/{MAC}/acs")
    assert unknown.status_code == 200 and 'id="acs-unknown"' in unknown.text
    check_page(unknown)
    assert 'href="/phones/00:08:5D:00:00:01/acs"' in admin.get("/phones/00:08:5D:00:00:01").text
    device = records.inform(
        sqlite_store, oui="00085D", serial="UI1", product_class="6757i", manufacturer="Aastra",
        software_version="3.3.1.4322", connection_request_url=None, mac=MAC,
        events=["0 BOOTSTRAP"], parameter_key=None, address=None,
    )  # fmt: skip
    failed = tasks.add_task(sqlite_store, device.id, "set", {"name": "Device.X", "value": "1"},
                            "ada")  # fmt: skip
    tasks.start(sqlite_store, failed.id)
    tasks.fail(sqlite_store, failed.id, 9005, "9005 invalid parameter name (CPE says: no X)")
    shown = admin.get(f"/phones/{MAC}/acs")
    check_page(shown)
    assert "3.3.1.4322" in shown.text and "9005 invalid parameter name" in shown.text
    posted = admin.post(f"/phones/{MAC}/acs/tasks",
                        data={"kind": "backup", "csrf": token(shown.text)})  # fmt: skip
    assert posted.status_code == 303 and "queued" in posted.headers["location"]
    assert [t.kind for t in tasks.device_tasks(sqlite_store, device.id)] == ["backup", "set"]
    assert admin.post(f"/phones/{MAC}/acs/tasks", data={"kind": "backup"}).status_code == 403
    bad = admin.post(f"/phones/{MAC}/acs/tasks", data={"kind": "set", "csrf": token(shown.text)})
    assert bad.status_code == 422 and "NAME=VALUE" in bad.text
    viewer = sign_in(app, "vera", VIEWER_PASSWORD)
    seen = viewer.get(f"/phones/{MAC}/acs")
    assert "acs-task-form" not in seen.text
    forged = viewer.post(f"/phones/{MAC}/acs/tasks", data={"kind": "reboot",
                                                            "csrf": token(seen.text + 'name="csrf" value="x"')})  # fmt: skip
    assert forged.status_code == 403
    assert len(tasks.device_tasks(sqlite_store, device.id)) == 2
