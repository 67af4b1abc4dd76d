"""A phone's next files are rendered in the worker thread that renders the one it asked
for, so its next requests are answered from memory (``Resolver.cached``) on the event
loop, not each sent to a thread: what a Polycom's master file and a 79xx's
``SIP<MAC>.cnf`` tell the phone to fetch next (``VendorPlugin.follow_ups``)."""

from __future__ import annotations

from plugtone.provisioning.resolver import FileRequest, Resolver, Status
from plugtone.provisioning.trust import Trust, parse_network_rules
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, apply_text

PHONE_LAN = parse_network_rules(["10.0.0.0/8"])


def resolver_for(store) -> Resolver:
    return Resolver(store, default_registry(), trusted_networks=PHONE_LAN)


def request(path: str, address: str = "10.0.0.7") -> FileRequest:
    return FileRequest(path, "http", client_address=address)


def test_a_polycom_master_brings_the_files_it_lists_and_the_directory(store):
    apply_text(store, EXAMPLE.read_text())
    resolver = resolver_for(store)
    follow_ups = ["0004f2000607-reg.cfg", "0004f2000607-site.cfg", "0004f2000607-directory.xml"]
    assert all(resolver.cached(request(path)) is None for path in follow_ups)
    master = resolver.resolve(request("0004f2000607.cfg"))
    assert master.status is Status.OK
    assert b"0004f2000607-reg.cfg, 0004f2000607-site.cfg" in master.content
    misses = resolver.render_misses
    fresh = resolver_for(store)
    for path in follow_ups:
        answer = resolver.cached(request(path))  # no thread, no store
        assert answer is not None and answer.status is Status.OK, path
        assert answer.content == fresh.resolve(request(path)).content, path
    assert resolver.render_misses == misses  # nothing rendered twice


def test_a_79xx_config_brings_the_dial_plan_it_names(store):
    apply_text(store, EXAMPLE.read_text())
    resolver = resolver_for(store)
    config = resolver.resolve(FileRequest("SIP00115C93AFD1.cnf", "tftp", client_address="10.0.0.8"))
    assert b'dial_template: "dialplan00115C93AFD1"' in config.content
    plan = resolver.cached(FileRequest("dialplan00115C93AFD1.xml", "tftp",
                                       client_address="10.0.0.8"))  # fmt: skip
    assert plan is not None and plan.status is Status.OK and b"<DIALTEMPLATE>" in plan.content


def test_an_aastra_file_names_nothing_to_follow(store):
    apply_text(store, EXAMPLE.read_text())
    resolver = resolver_for(store)
    misses = resolver.render_misses
    assert resolver.resolve(request("00085D000001.cfg")).status is Status.OK
    assert resolver.render_misses == misses + 1


def test_a_stranger_brings_nothing_along(store):
    apply_text(store, EXAMPLE.read_text())
    resolver = resolver_for(store)
    stranger = resolver.resolve(request("0004f2000607.cfg", address="192.0.2.9"))
    assert stranger.trust is Trust.STRANGER
    assert resolver.cached(request("0004f2000607-reg.cfg")) is None


def test_a_dial_template_naming_another_phones_plan_is_not_rendered_ahead(store):
    apply_text(store, """
sites:
  - {name: lab, sip_server: pbx.example.com}
extensions:
  - {number: "208", site: lab, name: "208", password: sip}
  - {number: "209", site: lab, name: "209", password: sip}
phones:
  - mac: 00:11:5C:00:00:01
    model: CP-7960G
    site: lab
    lines: ["208"]
    vendor_settings: {cisco79xx: {dial_template: dialplan00115C000002}}
  - {mac: "00:11:5C:00:00:02", model: CP-7960G, site: lab, lines: ["209"]}
""")  # fmt: skip
    resolver = resolver_for(store)
    own = FileRequest("SIP00115C000001.cnf", "tftp", client_address="10.0.0.8")
    assert b'dial_template: "dialplan00115C000002"' in resolver.resolve(own).content
    other = FileRequest("dialplan00115C000002.xml", "tftp", client_address="10.0.0.9")
    assert resolver.cached(other) is None  # the other phone's file waits for that phone


def test_a_polycom_directory_follows_from_memory_until_the_phone_uploads_its_own(
    store, tmp_path
):  # fmt: skip
    """``<MAC>-directory.xml`` is also a name the phone uploads its contacts under: with
    nothing uploaded the rendered directory comes from memory; once the phone has
    uploaded its own, that is what it gets back."""
    from plugtone.provisioning.uploads import UploadStore

    apply_text(store, EXAMPLE.read_text())
    uploads = UploadStore(tmp_path / "uploads")
    resolver = Resolver(store, default_registry(), trusted_networks=PHONE_LAN, uploads=uploads)
    master = request("0004f2000607.cfg")
    answer = resolver.resolve(master)
    assert answer.status is Status.OK
    resolver.remember_address(master.client_address, answer.mac)  # as the event log does
    rendered = resolver.cached(request("0004f2000607-directory.xml"))
    assert rendered is not None and rendered.status is Status.OK
    own = b"<directory><item_list><item><fn>Mine</fn><ct>42</ct></item></item_list></directory>"
    polycom = resolver.registry.by_name["polycom"]
    uploads.save(polycom.match_upload("0004f2000607-directory.xml"), own)  # as the phone did
    assert resolver.cached(request("0004f2000607-directory.xml")) is None
    assert resolver.resolve(request("0004f2000607-directory.xml")).content == own
