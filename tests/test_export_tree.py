"""export_tree with an explicit list: only what the resolver serves is written, safely."""

from __future__ import annotations

from plugtone.inventory.store import Store, migrate
from plugtone.provisioning.resolver import FileRequest, Resolver
from plugtone.provisioning.trust import Trust, parse_network_rules
from plugtone.services.export_tree import export_tree
from tests.conftest import EXAMPLE, apply_text


def test_explicit_items_write_only_served_files_inside_the_tree(tmp_path, sqlite_url, registry):
    store = Store(sqlite_url)
    try:
        migrate(store.engine)
        apply_text(store, EXAMPLE.read_text())
        tree = tmp_path / "tree"
        items = [
            "aastra.cfg",
            "/6757i.cfg",  # a leading slash is just a name
            "00085D000001.cfg",
            "00085D000001.cfg",  # listed twice, written once
            "00085D0000FF.cfg",  # unassigned MAC: not served, not written
            "../escape.cfg",  # refused by the resolver
            "nothing.txt",
        ]
        count = export_tree(store, registry, tree, items, file_mode=0o640, dir_mode=0o750)
        assert count == 3
        assert sorted(path.name for path in tree.iterdir()) == [
            "00085D000001.cfg", "6757i.cfg", "aastra.cfg"
        ]  # fmt: skip
        assert not (tmp_path / "escape.cfg").exists()
        assert (tree / "6757i.cfg").stat().st_mode & 0o777 == 0o640
        assert tree.stat().st_mode & 0o777 == 0o750
        # byte for byte what the phone gets from a trusted network (a stranger gets none
        # of it: the tree is for a server of one's own, on the phones' network)
        phones = parse_network_rules(["10.0.0.0/8"])
        served = Resolver(store, registry, trusted_networks=phones).resolve(
            FileRequest("00085D000001.cfg", transport="tftp", client_address="10.0.0.5")
        )
        assert served.trust is Trust.TRUSTED_NETWORK and served.secrets
        assert (tree / "00085D000001.cfg").read_bytes() == served.content
    finally:
        store.dispose()
