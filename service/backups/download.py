"""A download of a completed backup: its ciphertext back from the store host into a staging
dir when it is kept there, then decrypted chunk by chunk while the answer streams. The first
chunk is read before anything is answered, so a file that does not authenticate is a 409;
a later chunk that does not ends the stream short of its Content-Length."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..backupstore.envelope import CorruptBackup
from ..backupstore.remote import StoreHostError, StoreHosts, readable
from ..backupstore.staging import Staging
from ..errors import Conflict, Unavailable

if TYPE_CHECKING:
    from ..backupstore.store import BackupStore
    from ..context import Context
    from ..db.backups import Backup

log = logging.getLogger(__name__)


@dataclass
class Download:
    backup: Backup
    first: bytes | None
    _rest: Iterator[bytes]

    async def next(self) -> bytes | None:
        """The next plaintext chunk (None at the end); raises CorruptBackup mid-stream."""
        return await asyncio.to_thread(next, self._rest, None)


@contextlib.asynccontextmanager
async def open_download(
    ctx: Context, local: BackupStore, hosts: StoreHosts, found: Backup
) -> AsyncIterator[Download]:
    if found.status != "completed" or found.path is None or found.size_bytes is None:
        raise Conflict(f"backup {found.id} is {found.status}; only a completed backup downloads")
    # A backup on a store host: its ciphertext comes back into a staging dir first.
    staging = Staging(ctx.settings.staging_dir).make() if found.store_host else None
    try:
        store = local
        if staging is not None:
            try:
                store = await readable(hosts, local, found, staging, ctx.box)
            except StoreHostError as exc:
                log.error("download of %s: %s", found.id, exc)
                raise Unavailable(
                    f"backup {found.id}'s store host {found.store_host!r} did not give its file back"
                ) from None
        try:
            src, chunks = await asyncio.to_thread(store.chunks, found.path)
        except OSError:
            raise Conflict(f"backup {found.id}'s file is missing from the store") from None
        it: Any = chunks
        try:
            try:
                first = await asyncio.to_thread(next, it, None)
            except CorruptBackup as exc:
                raise Conflict(f"backup {found.id}'s stored file is corrupt: {exc}") from None
            yield Download(found, first, it)
        finally:
            src.close()
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
