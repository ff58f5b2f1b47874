"""Host health: a periodic Ansible check (ping + Docker engine info) marks each host up
or down with the time and the reason. A host that comes back gets the cleanups it owes
(containers left by creates moved away from it, instances deleted while it was down)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..db import events as events_repo
from ..db import hosts as hosts_repo
from ..db import leases, ports
from ..db.events import Event
from ..inventory import DockerHost
from .runner import PlaybookRunner, RunResult

if TYPE_CHECKING:
    from ..db import Pool

log = logging.getLogger(__name__)
LEASE = "host-health"


class HostMonitor:
    def __init__(
        self,
        pool: Pool,
        runner: PlaybookRunner,
        hosts: Callable[[], Mapping[str, DockerHost]],
        *,
        owner: str,
        interval: float,
        cleanup_attempts: int = 5,
    ) -> None:
        self.pool = pool
        self.runner = runner
        self.hosts = hosts
        self.owner = owner
        self.interval = interval
        self.cleanup_attempts = cleanup_attempts
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="dbvend-host-health")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                if await leases.acquire(self.pool, LEASE, self.owner, self.interval * 3):
                    await self.check_once()
            except Exception:
                log.exception("host health round failed")
            await asyncio.sleep(self.interval)

    async def check_once(self) -> dict[str, bool]:
        """One round over every inventory host; returns host -> up."""
        hosts = dict(self.hosts())
        if not hosts:
            return {}
        result = await self.runner.run("health.yml", {name: dict(h.variables) for name, h in hosts.items()})
        self.rounds += 1
        states: dict[str, bool] = {}
        for name in hosts:
            outcome = result.outcome(name)
            info = result.facts.get(name, {})
            up = outcome.ok
            states[name] = up
            before = await hosts_repo.set_health(
                self.pool,
                name,
                up=up,
                reason=None if up else (outcome.error or "no answer")[:500],
                server_version=str(info["server_version"]) if up and info.get("server_version") else None,
            )
            if before is not None:
                log.warning(
                    "host %s is now %s (was %s)%s",
                    name,
                    "up" if up else "down",
                    before,
                    "" if up else f": {outcome.error}",
                )
            if up:
                await self._cleanup(hosts[name])
        return states

    async def _cleanup(self, host: DockerHost) -> None:
        """Remove the containers owed on this host. A try that fails keeps the port claim and
        is retried with a backoff; out of attempts the cleanup is 'failed' (an event, and the
        admin's host view, say so) and still holds the claim."""
        pending = await hosts_repo.cleanups(self.pool, host.name)
        if not pending:
            return
        result: RunResult = await self.runner.run(
            "deprovision.yml",
            {iid: {**host.variables, "instance_id": iid, "dbvend_host_name": host.name} for iid in pending},
        )
        done = [iid for iid in pending if result.outcome(iid).ok]
        async with self.pool.acquire() as conn, conn.transaction():
            if done:
                await hosts_repo.cleanup_done(conn, host.name, done)
                for iid in done:
                    await ports.release_if_gone(conn, iid, host.name)
            for iid in pending:
                if iid in done:
                    continue
                error = (result.outcome(iid).error or "the deprovision playbook failed")[:1000]
                gave_up = await hosts_repo.cleanup_failed(
                    conn, host.name, iid, error, base_delay=self.interval, max_attempts=self.cleanup_attempts
                )
                log.warning(
                    "cleanup of %s on %s failed%s: %s", iid, host.name, " for good" if gave_up else "", error
                )
                if gave_up:
                    await events_repo.insert(
                        conn,
                        Event(
                            kind="cleanup_failed",
                            severity="critical",
                            source="worker",
                            instance_id=iid,
                            subject=host.name,
                            message=f"the container of {iid} on {host.name} could not be removed"
                            f" after {self.cleanup_attempts} attempts; its port stays claimed: {error}",
                            details={"host": host.name, "attempts": self.cleanup_attempts, "reason": error},
                        ),
                    )
        if done:
            log.info("cleaned up %d instance(s) left on %s: %s", len(done), host.name, ", ".join(done))
