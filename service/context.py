"""What the domain services and the background jobs of one process share: the settings,
the database pools, the secret box, the playbook runner, the operation waiter and the
inventory's hosts. One Context per process, built by the runtime (service/runtime.py)
and filled as its components start (the pools once connected, the hosts once loaded)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .db import operations

if TYPE_CHECKING:
    from .config import Settings
    from .crypto import SecretBox
    from .db import Pool
    from .db.operations import Operation
    from .inventory import DockerHost
    from .operations.runner import PlaybookRunner
    from .operations.waiter import OperationWaiter


@dataclass
class Context:
    settings: Settings
    box: SecretBox
    runner: PlaybookRunner
    # Replaced (never mutated) when the inventory is reloaded: read it live.
    hosts: dict[str, DockerHost] = field(default_factory=dict)
    _pool: Pool | None = None
    # Single-statement reads of the hot routes (db.pool.create_read_pool); else `pool`.
    _read_pool: Pool | None = None
    _waiter: OperationWaiter | None = None
    _host_listeners: list[Callable[[Mapping[str, DockerHost]], None]] = field(default_factory=list)

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            raise RuntimeError("the database is not connected (the runtime has not started)")
        return self._pool

    @property
    def reads(self) -> Pool:
        return self._read_pool or self.pool

    @property
    def read_pool(self) -> Pool | None:
        return self._read_pool

    def connected(self, pool: Pool | None, read_pool: Pool | None = None) -> None:
        self._pool, self._read_pool = pool, read_pool

    @property
    def waiter(self) -> OperationWaiter:
        if self._waiter is None:
            raise RuntimeError("no operation waiter in this process")
        return self._waiter

    def waiting(self, waiter: OperationWaiter | None) -> None:
        self._waiter = waiter

    def live_hosts(self) -> Mapping[str, DockerHost]:
        return self.hosts

    def on_hosts_changed(self, listener: Callable[[Mapping[str, DockerHost]], None]) -> None:
        self._host_listeners.append(listener)

    def replace_hosts(self, hosts: dict[str, DockerHost]) -> None:
        self.hosts = hosts
        for listener in self._host_listeners:
            listener(hosts)

    async def wait(self, operation_id: str, seconds: int) -> Operation | None:
        """The operation once it ended, or as it stands after `seconds` (None: no wait asked)."""
        return await self.waiter.wait(operation_id, seconds) if seconds else None

    async def operation_after(self, operation_id: str, seconds: int) -> Operation:
        """The operation after waiting up to `seconds` for it to end (no wait when 0)."""
        op = await self.wait(operation_id, seconds) or await operations.get(self.pool, operation_id)
        assert op is not None
        return op


class Service:
    """What every domain service has: the process's Context, and the operations it records
    to wait for (?wait=N)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def wait(self, operation_id: str, seconds: int) -> Operation | None:
        return await self.ctx.wait(operation_id, seconds)

    async def operation_after(self, operation_id: str, seconds: int) -> Operation:
        return await self.ctx.operation_after(operation_id, seconds)
