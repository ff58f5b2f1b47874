"""Backup files kept on a store host (DBVEND_BACKUP_HOST) through playbooks/backup_store.yml.

Only ciphertext travels: a file is encrypted into a staging dir first (BackupStore with the
staging dir as its root), put on the store host, and removed locally; a restore or a
download gets it back into a staging dir and decrypts it as a local store file. Both
transfers stream (the play never uses slurp). A backup's row says which host and directory
hold its file, so a later change of the setting never loses one."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..config import ConfigError
from .store import BackupStore

if TYPE_CHECKING:
    from ..crypto import SecretBox
    from ..db.backups import Backup
    from ..inventory import DockerHost

PLAYBOOK = "backup_store.yml"


class _Outcome(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def error(self) -> str | None: ...


class _Result(Protocol):
    def outcome(self, host: str) -> _Outcome: ...


class PlaybookRunner(Protocol):
    """What runs backup_store.yml: operations.runner.PlaybookRunner, which sits above this
    package (the store is below the operations that fill it)."""

    async def run(
        self, playbook: str, hosts: Mapping[str, Mapping[str, Any]], *, secrets: Iterable[str] = ()
    ) -> _Result: ...


def check_store_host(backup_host: str | None, hosts: Mapping[str, object], inventory: object) -> None:
    """At start and on every inventory reload: DBVEND_BACKUP_HOST must name one of its hosts."""
    if backup_host is not None and backup_host not in hosts:
        raise ConfigError(
            f"DBVEND_BACKUP_HOST={backup_host!r} is not a host of the inventory {inventory}"
            f" (its hosts: {', '.join(sorted(hosts)) or 'none'})"
        )


class StoreHostError(Exception):
    """The store host did not take, give back or delete the file (the reason says why)."""


class StoreHosts:
    def __init__(self, runner: PlaybookRunner, hosts: Callable[[], Mapping[str, DockerHost]]) -> None:
        self.runner = runner
        self.hosts = hosts

    async def _run(self, host_name: str, action: str, directory: str, name: str, local: Path | None) -> None:
        host = self.hosts().get(host_name)
        if host is None:
            raise StoreHostError(f"the backup store host {host_name!r} is not in the inventory")
        hostvars: dict[str, Any] = {
            **host.variables,
            "dbvend_store_action": action,
            "dbvend_store_dir": directory,
            "dbvend_store_name": name,
        }
        if local is not None:
            hostvars["dbvend_store_local"] = str(local)
        result = await self.runner.run(PLAYBOOK, {host_name: hostvars})
        outcome = result.outcome(host_name)
        if not outcome.ok:
            raise StoreHostError(f"{action} on backup store host {host_name!r} failed: {outcome.error}")

    async def put(self, host_name: str, directory: str, name: str, local: Path) -> None:
        await self._run(host_name, "put", directory, name, local)

    async def get(self, host_name: str, directory: str, name: str, local: Path) -> None:
        await self._run(host_name, "get", directory, name, local)

    async def delete(self, host_name: str, directory: str, name: str) -> None:
        await self._run(host_name, "delete", directory, name, None)


async def readable(
    hosts: StoreHosts, local: BackupStore, backup: Backup, staging: Path, box: SecretBox
) -> BackupStore:
    """A store from which `backup.path` can be read: the local one, or `staging` once the
    ciphertext is back from the backup's store host (removed with the staging dir)."""
    if backup.store_host is None or backup.store_dir is None or backup.path is None:
        return local
    store = BackupStore(staging, box)
    await hosts.get(backup.store_host, backup.store_dir, backup.path, store.path(backup.path))
    return store
