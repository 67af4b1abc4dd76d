"""The upload store on a real file system: whole files renamed into place, a device's
folder made when it is missing (also after someone removed it), appends capped, and no
temporary file left behind whatever happens."""

from __future__ import annotations

import os
import shutil
import stat

import pytest

from plugtone.provisioning.uploads import UploadStore, UploadTooLarge
from plugtone.vendors.base import UploadRef

LOG = UploadRef("polycom", "0004F2000001", "0004F2000001-boot.log", max_bytes=64)


def leftovers(folder) -> list[str]:
    return [name for name in os.listdir(folder) if name.startswith(".")]


def test_uploads_are_whole_private_and_leave_nothing_behind(tmp_path):
    store = UploadStore(tmp_path / "uploads")
    assert store.save(LOG, b"first\n") == 6  # the folder does not exist yet
    target = store.path(LOG)
    assert target.read_bytes() == b"first\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert store.save(LOG, b"second\n", append=True) == 13
    assert target.read_bytes() == b"first\nsecond\n"
    with pytest.raises(UploadTooLarge):
        store.save(LOG, b"x" * 60, append=True)
    assert target.read_bytes() == b"first\nsecond\n"  # unchanged by the refusal
    assert leftovers(target.parent) == []


def test_a_removed_folder_is_made_again_and_a_taken_name_is_not_reused(tmp_path):
    store = UploadStore(tmp_path / "uploads")
    store.save(LOG, b"one")
    shutil.rmtree(store.path(LOG).parent)  # an admin cleared the device's uploads
    assert store.save(LOG, b"two") == 3 and store.path(LOG).read_bytes() == b"two"
    # A file left under the next temporary name (a crashed process of the same id) is
    # neither opened nor overwritten.
    folder = store.path(LOG).parent
    serial = next(store._serial)
    stale = folder / f".upload-{os.getpid()}-{serial + 1}"
    stale.write_bytes(b"someone else's")
    assert store.save(LOG, b"three") == 5
    assert store.path(LOG).read_bytes() == b"three" and stale.read_bytes() == b"someone else's"
    assert leftovers(folder) == [stale.name]
