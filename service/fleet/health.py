"""Host health: a periodic check marks each host up or down with the time and the reason:
a host Ansible reaches locally is asked over its Docker socket (docker_ping), any other by
health.yml (Ansible ping + Docker engine info), all of those in one run. A host that comes
back gets the cleanups it owes (containers left by creates moved away from it, instances
deleted while it was down)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..db import events as events_repo
from ..db import hosts as hosts_repo
from ..db import ports
from ..db.events import Event
from ..inventory import DockerHost
from ..operations.runner import PlaybookRunner, RunResult
from ..tasks import LeaderJob
from . import docker_ping

if TYPE_CHECKING:
    from ..db import Pool

log = logging.getLogger(__name__)
LEASE = "host-health"


class HostMonitor(LeaderJob):
    lease = LEASE
    task_name = "dbvend-host-health"

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
        super().__init__(pool, owner=owner)
        self.runner = runner
        self.hosts = hosts
        self.every = interval
        self.cleanup_attempts = cleanup_attempts
        self.rounds = 0

    def interval(self) -> float:
        return self.every

    def lease_seconds(self) -> float:
        return self.every * 3

    async def round(self) -> object:
        return await self.check_once()

    async def check_once(self) -> dict[str, bool]:
        """One round over every inventory host; returns host -> up."""
        hosts = dict(self.hosts())
        if not hosts:
            return {}
        direct = {name: docker_ping.local_socket(h.variables) for name, h in hosts.items()}
        answered = await asyncio.gather(*(docker_ping.ask(path) for path in direct.values() if path))
        answers: dict[str, docker_ping.EngineAnswer] = dict(
            zip([n for n, path in direct.items() if path], answered, strict=True)
        )
        others = {name: dict(h.variables) for name, h in hosts.items() if name not in answers}
        if others:
            result = await self.runner.run("health.yml", others)
            for name in others:
                outcome, info = result.outcome(name), result.facts.get(name, {})
                version = info.get("server_version") if outcome.ok else None
                answers[name] = docker_ping.EngineAnswer(
                    outcome.ok,
                    str(version) if version else None,
                    None if outcome.ok else outcome.error or "no answer",
                )
        self.rounds += 1
        states: dict[str, bool] = {}
        for name in hosts:
            answer = answers[name]
            up = answer.ok
            states[name] = up
            before = await hosts_repo.set_health(
                self.pool,
                name,
                up=up,
                reason=None if up else (answer.error or "no answer")[:500],
                server_version=answer.server_version if up else None,
            )
            if before is not None:
                log.warning(
                    "host %s is now %s (was %s)%s",
                    name,
                    "up" if up else "down",
                    before,
                    "" if up else f": {answer.error}",
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
                    conn, host.name, iid, error, base_delay=self.every, max_attempts=self.cleanup_attempts
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
