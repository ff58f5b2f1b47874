"""The store on disk: a file goes in under its final name only when its checksum matched,
the plaintext is removed either way, no partial is left, the files are private, and the
start-up sweep removes what no completed or running backup stands behind."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from service.backupstore.envelope import CorruptBackup
from service.backupstore.staging import Staging
from service.backupstore.store import BackupStore, ChecksumMismatch
from service.crypto import SecretBox

BOX = SecretBox((Fernet.generate_key().decode(),))


def _plain(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "plain"
    path.write_bytes(data)
    return path


def test_put_then_restore(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "store", BOX)
    data = os.urandom(3 * 1024 * 1024 + 5)
    sha = hashlib.sha256(data).hexdigest()
    plain = _plain(tmp_path, data)
    size, got, relative = store.put("b-abcdef1", "rdb", plain, sha.upper())
    assert (size, got, relative) == (len(data), sha, "b-abcdef1.rdb.enc")
    assert not plain.exists()
    assert sorted(p.name for p in store.root.iterdir()) == ["b-abcdef1.rdb.enc"]
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path(relative).stat().st_mode) == 0o600
    assert data[:4096] not in store.path(relative).read_bytes()
    out = tmp_path / "out"
    assert store.restore_to(relative, sha, out) == len(data)
    assert out.read_bytes() == data


def test_checksum_mismatch_stores_nothing(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "store", BOX)
    plain = _plain(tmp_path, b"data")
    with pytest.raises(ChecksumMismatch):
        store.put("b-abcdef1", "rdb", plain, "0" * 64)
    assert list(store.root.iterdir()) == []
    assert not plain.exists()


def test_a_symlink_in_place_of_the_fetched_file_is_not_followed(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "store", BOX)
    secret = _plain(tmp_path, b"not yours")
    link = tmp_path / "b-abcdef1.rdb"
    link.symlink_to(secret)
    with pytest.raises(OSError, match=r"symbolic link|Too many levels"):
        store.put("b-abcdef1", "rdb", link, hashlib.sha256(b"not yours").hexdigest())
    assert list(store.root.iterdir()) == []


def test_a_corrupt_store_file_restores_nothing(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "store", BOX)
    data = os.urandom(5000)
    sha = hashlib.sha256(data).hexdigest()
    _, _, relative = store.put("b-abcdef1", "rdb", _plain(tmp_path, data), sha)
    raw = bytearray(store.path(relative).read_bytes())
    raw[-10] ^= 0x80
    store.path(relative).write_bytes(bytes(raw))
    out = tmp_path / "out"
    with pytest.raises(CorruptBackup):
        store.restore_to(relative, sha, out)
    assert not out.exists()
    with pytest.raises(CorruptBackup, match="missing"):
        store.restore_to("b-zzzzzz9.rdb.enc", sha, out)


def test_sweep_keeps_only_completed_and_in_flight(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "store", BOX)
    store.ensure()
    names = {
        "b-done001.rdb.enc": "completed",
        "b-runs001.rdb.enc": "running",
        "b-runs001.rdb.enc.partial": "running",
        "b-dead001.rdb.enc.partial": "failed",
        "b-fail001.rdb.enc": "failed",
        "b-gone001.rdb.enc": "deleted",
        "b-half001.rdb.enc.partial": "completed",
        "b-other01.rdb.enc": None,
    }
    for name in names:
        (store.root / name).write_bytes(b"x")
    statuses = {n.split(".")[0]: s for n, s in names.items() if s is not None}
    assert store.sweep(statuses) == 4
    assert sorted(p.name for p in store.root.iterdir()) == [
        "b-done001.rdb.enc",
        "b-other01.rdb.enc",
        "b-runs001.rdb.enc",
        "b-runs001.rdb.enc.partial",
    ]


def test_staging_is_private_and_a_dead_process_dir_is_swept(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "staging")
    with staging.run_dir() as mine:
        assert stat.S_IMODE(staging.root.stat().st_mode) == 0o700
        assert stat.S_IMODE(mine.stat().st_mode) == 0o700
        dead = staging.root / "999999999-abc"
        dead.mkdir()
        (dead / "b-x.rdb").write_bytes(b"plaintext")
        assert staging.sweep() == 1
        assert mine.exists()
    assert not mine.exists()
