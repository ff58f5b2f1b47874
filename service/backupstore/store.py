"""The backup store: one encrypted file per backup under DBVEND_BACKUP_DIR.

A file is written as `<id>.<format>.enc.partial`, fsynced, renamed to `<id>.<format>.enc`
and the directory fsynced; only then may its row say `completed`. So a crash at any point
leaves a partial (swept at start, the backup re-run or failed) or a whole file."""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
from pathlib import Path
from typing import BinaryIO

from ..crypto import SecretBox
from .envelope import CorruptBackup, decrypt_chunks, decrypt_to, encrypt_stream, fsync_dir

log = logging.getLogger(__name__)

PARTIAL = ".partial"


class ChecksumMismatch(Exception):
    """The fetched file is not the one the role checksummed on the host."""


def open_private_file(path: Path) -> BinaryIO:
    """Open a plaintext file for reading without following a symlink put in its place."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    return os.fdopen(fd, "rb")


class BackupStore:
    def __init__(self, root: Path, box: SecretBox) -> None:
        self.root = root
        self.box = box

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    @staticmethod
    def relative(backup_id: str, fmt: str) -> str:
        return f"{backup_id}.{fmt}.enc"

    def path(self, relative: str) -> Path:
        if "/" in relative or relative.startswith("."):
            raise ValueError(f"not a store path: {relative!r}")
        return self.root / relative

    def put(self, backup_id: str, fmt: str, plaintext: Path, expected_sha256: str) -> tuple[int, str, str]:
        """Encrypt the plaintext into the store, checking it against the SHA-256 the role
        reported; removes the plaintext. Returns (size, sha256, store path)."""
        self.ensure()
        relative = self.relative(backup_id, fmt)
        final = self.path(relative)
        partial = final.with_name(final.name + PARTIAL)
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with open_private_file(plaintext) as src, os.fdopen(fd, "wb") as dst:
                size, sha256 = encrypt_stream(src, dst, self.box)
                dst.flush()
                os.fsync(dst.fileno())
            if not hmac.compare_digest(sha256, expected_sha256.lower()):
                raise ChecksumMismatch(
                    f"the fetched backup's SHA-256 is {sha256}, the host reported {expected_sha256}"
                )
            os.replace(partial, final)
            fsync_dir(self.root)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            with contextlib.suppress(FileNotFoundError):
                plaintext.unlink()
        return size, sha256, relative

    def restore_to(self, relative: str, sha256: str, dest: Path) -> int:
        """Decrypt a stored backup into `dest` (a new 0600 file), checking its SHA-256;
        CorruptBackup (and no `dest`) when the file is not what was stored."""
        try:
            src = open_private_file(self.path(relative))
        except FileNotFoundError:
            raise CorruptBackup("the backup's file is missing from the store") from None
        try:
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with src, os.fdopen(fd, "wb") as dst:
                size = decrypt_to(src, dst, self.box, sha256=sha256)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                dest.unlink()
            raise
        return size

    def chunks(self, relative: str) -> tuple[BinaryIO, object]:
        """An open store file and the iterator of its plaintext chunks (for a download)."""
        src = open_private_file(self.path(relative))
        return src, decrypt_chunks(src, self.box)

    def remove(self, relative: str | None, backup_id: str | None = None, fmt: str | None = None) -> None:
        names = [relative] if relative else []
        if backup_id and fmt:
            names.append(self.relative(backup_id, fmt))
            names.append(self.relative(backup_id, fmt) + PARTIAL)
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                self.path(name).unlink()

    def sweep(self, statuses: dict[str, str]) -> int:
        """At start: partials of backups no longer being made, and files of failed or
        deleted backups. A file without a row is left alone (the store may be shared)."""
        if not self.root.exists():
            return 0
        removed = 0
        for entry in self.root.iterdir():
            backup_id = entry.name.split(".", 1)[0]
            status = statuses.get(backup_id)
            stale_partial = entry.name.endswith(PARTIAL) and status not in ("pending", "running")
            if stale_partial or status in ("failed", "deleted"):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed += 1
        if removed:
            log.warning("removed %d stale file(s) from the backup store", removed)
        return removed
