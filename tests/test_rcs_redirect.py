"""A plug-in whose phones follow HTTP redirects answers the redirection service with a
``302 Found`` to the configuration server (none of the three built-in vendors documents
that its phones follow one, so this is a third party's plug-in, installed the way any
plug-in is: through the registry)."""

from __future__ import annotations

import asyncio
import shutil

import httpx
import pytest

from plugtone.firmware.repository import FileStore
from plugtone.inventory.store import Store, migrate
from plugtone.macaddr import normalize_mac
from plugtone.redirect import services as rcs
from plugtone.redirect.actors import RcsActor
from plugtone.redirect.answer import Redirector
from plugtone.redirect.phone_app import serve
from plugtone.redirect.services import Assignment, Row
from plugtone.vendors import VendorRegistry, default_registry
from plugtone.vendors.base import ModelSpec, VendorPlugin
from plugtone.vendors.bootstrap import BootstrapAnswer, BootstrapRef

ADMIN = RcsActor("admin", "admin", None, None, "cli")


class Follower(VendorPlugin):
    """A made-up vendor: its phone asks ``follower/<MAC>.xml`` and follows a 302."""

    name = "follower"
    label = "Follower"
    models = (ModelSpec("F1"),)

    def match(self, path):
        return None

    def identify(self, user_agent):
        return None

    def render(self, ref, phone, model):
        return None

    def served_files(self, models, macs):
        return []

    def bootstrap_match(self, path):
        folder, _, name = path.partition("/")
        if folder != "follower" or not name.endswith(".xml"):
            return None
        try:
            mac = normalize_mac(name[: -len(".xml")])
        except ValueError:
            return None
        return BootstrapRef(self.name, "mac", mac=mac, requested=path)

    def bootstrap_file(self, ref, target):
        if target is None:
            return None
        return BootstrapAnswer(location=f"{target.server.url}/{ref.mac}.xml", kind="redirect")


@pytest.fixture
def redirector(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/rcs.db", data_dir=tmp_path)
    migrate(store.engine)
    registry = VendorRegistry([*default_registry().plugins, Follower()])
    rcs.add_account(store, ADMIN, "acme")
    rcs.add_server(store, ADMIN, "main", "https://prov.example.com/acme", "acme")
    rcs.register_phones(store, ADMIN, [Row("AABBCC000001", Assignment("main"))], account="acme")
    yield Redirector(store, registry, FileStore(tmp_path / "firmware"))
    store.dispose()
    shutil.rmtree(tmp_path / "firmware", ignore_errors=True)


def ask(redirector: Redirector, path: str) -> httpx.Response:
    """GET ``path`` of the service's phone-facing ASGI app with a real HTTP client."""

    async def app(scope, receive, send):
        await serve(redirector, scope["path"].lstrip("/"), scope, send)

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rcs") as client:
            return await client.get(path)

    return asyncio.run(get())


def test_a_registered_phone_is_sent_on_with_a_302_and_counted_as_redirected(redirector):
    answer = ask(redirector, "/follower/AABBCC000001.xml")
    assert answer.status_code == 302
    assert answer.headers["location"] == "https://prov.example.com/acme/AABBCC000001.xml"
    stats = rcs.stats(redirector.store, ADMIN, "acme")
    assert stats.redirected == 1


def test_an_unregistered_phone_gets_the_same_404_as_any_unknown_path(redirector):
    unknown = ask(redirector, "/follower/AABBCC000002.xml")
    nonsense = ask(redirector, "/nothing-here")
    assert unknown.status_code == nonsense.status_code == 404
    assert unknown.content == nonsense.content and "location" not in unknown.headers
