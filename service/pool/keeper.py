"""The pool keeper: one leader among the service processes keeps every host's pool at the
size the inventory asks for (DockerHost.pool), through Ansible only.

Each round: recovery (claiming slots whose claim died -> ready, warming slots whose refill
died -> broken), surplus ready slots -> broken, broken slots destroyed with deprovision.yml
(then their row and port claim go), and the missing slots of placeable hosts (up, not
draining) inserted as warming under PLACEMENT_LOCK within the host's capacity, deployed in
ONE provision.yml run, checked as a client would, and made ready (or broken)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..db import hosts as hosts_repo
from ..db import locks, pool_slots, ports
from ..db import tls as tls_repo
from ..db.ids import new_id
from ..engines import Credentials, get_engine
from ..engines.readiness import NotReady, wait_ready
from ..operations import certificates
from ..operations.runner import redact
from ..placement import lowest_free_port
from ..tasks import LeaderJob
from ..tls import TlsError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..config import Settings
    from ..crypto import SecretBox
    from ..db import Pool
    from ..inventory import DockerHost
    from ..operations.runner import PlaybookRunner, RunResult

log = logging.getLogger(__name__)
LEASE = "pool-keeper"
# A claimed slot's row is kept this long (history), then pruned.
CLAIMED_KEEP_SECONDS = 86400.0
_PORT_IN_USE = "DBVEND_PORT_IN_USE"

Wanted = dict[tuple[str, str, int], int]


def wanted(hosts: Mapping[str, DockerHost]) -> Wanted:
    """(host, engine, class MB) -> slots the inventory asks for."""
    return {
        (h.name, engine, mb): n
        for h in hosts.values()
        for engine, classes in h.pool.items()
        for mb, n in classes.items()
    }


@dataclass
class _New:
    """A warming slot of this run: what its play and its readiness check need (in memory)."""

    slot_id: str
    host: DockerHost
    engine: str
    port: int
    settings: BaseModel
    creds: Credentials
    # Its certificate (TLS on): it names the host and the slot's id, which is the id of the
    # instance that will claim it, so the claim keeps it.
    shipment: certificates.Shipment | None = None


class PoolKeeper(LeaderJob):
    lease = LEASE
    task_name = "dbvend-pool-keeper"

    def __init__(
        self,
        pool: Pool,
        settings: Settings,
        runner: PlaybookRunner,
        hosts: Callable[[], Mapping[str, DockerHost]],
        box: SecretBox,
        *,
        owner: str,
    ) -> None:
        super().__init__(pool, owner=owner)
        self.settings = settings
        self.runner = runner
        self.hosts = hosts
        self.box = box

    def interval(self) -> float:
        return self.settings.pool_interval

    async def round(self) -> object:
        hosts = dict(self.hosts())
        want = wanted(hosts)
        async with self.pool.acquire() as conn:
            await pool_slots.recover(conn)
            await pool_slots.prune_claimed(conn, CLAIMED_KEEP_SECONDS)
            extra = await pool_slots.surplus(conn, want, list(hosts))
            if extra:
                await pool_slots.retire(conn, extra, "surplus: the inventory asks for fewer slots")
            other = await pool_slots.other_tls(conn, self.settings.tls.default)
            if other:
                await pool_slots.retire(conn, other, "TLS mode: DBVEND_TLS_DEFAULT changed")
        destroyed = await self.destroy(hosts)
        made = await self.refill(hosts, want)
        return {"destroyed": destroyed, "refilled": made}

    async def destroy(self, hosts: Mapping[str, DockerHost]) -> int:
        """Broken slots on hosts that are in the inventory and up: containers removed, then
        rows and port claims (their memory stays committed until then)."""
        async with self.pool.acquire() as conn:
            up = {h.name for h in await hosts_repo.placeable_loads(conn)}
            up |= set(await hosts_repo.draining_up(conn))
            doomed = [s for s in await pool_slots.broken(conn) if s.host in hosts and s.host in up]
        doomed = doomed[: self.settings.batch_size]
        if not doomed:
            return 0
        hostvars = {
            s.id: {
                **hosts[s.host].variables,
                "engine": s.engine,
                "instance_id": s.id,
                "dbvend_host_name": s.host,
            }
            for s in doomed
        }
        log.info("destroying %d pool slot(s): %s", len(doomed), ", ".join(hostvars))
        result = await self.runner.run("deprovision.yml", hostvars)
        gone = [s for s in doomed if result.outcome(s.id).ok]
        async with self.pool.acquire() as conn, conn.transaction():
            await pool_slots.remove(conn, [s.id for s in gone])
            for s in gone:
                await tls_repo.forget(conn, s.id)
            await locks.placement(conn)
            for s in gone:
                if s.error and _PORT_IN_USE in s.error:
                    await ports.block(
                        conn,
                        s.host,
                        s.port,
                        self.settings.port_block_seconds,
                        f"in use outside dbvend (seen by pool slot {s.id})",
                    )
        for s in doomed:
            if s not in gone:
                error = result.outcome(s.id).error
                log.warning("pool slot %s on %s: destroy failed: %s", s.id, s.host, error)
        return len(gone)

    async def refill(self, hosts: Mapping[str, DockerHost], want: Wanted) -> int:
        new = await self._plan(hosts, want)
        if not new:
            return 0
        new = await self._certificates(new)
        log.info("deploying %d pool slot(s) in one run: %s", len(new), ", ".join(n.slot_id for n in new))
        result = await self._deploy(new)
        ready = 0
        for n, error in zip(new, await asyncio.gather(*(self._check(n, result) for n in new)), strict=True):
            async with self.pool.acquire() as conn:
                if error is None:
                    await certificates.confirm(self.pool, n.shipment)
                    ready += await pool_slots.warmed(conn, n.slot_id, self.owner, result.facts[n.slot_id])
                else:
                    log.warning("pool slot %s on %s did not deploy: %s", n.slot_id, n.host.name, error)
                    await pool_slots.break_slot(conn, n.slot_id, error, owner=self.owner)
        return ready

    async def _plan(self, hosts: Mapping[str, DockerHost], want: Wanted) -> list[_New]:
        """Warming slots for what is missing, within each host's capacity and port range."""
        new: list[_New] = []
        async with self.pool.acquire() as conn, conn.transaction():
            await locks.placement(conn)
            loads = {h.name: h for h in await hosts_repo.placeable_loads(conn) if h.name in hosts}
            counts = await pool_slots.live_counts(conn)
            committed = {name: load.committed_mb for name, load in loads.items()}
            for (host_name, engine_name, mb), size in sorted(want.items()):
                load = loads.get(host_name)
                if load is None:
                    continue  # down, draining or unknown: not refilled
                have = sum(counts.get((host_name, engine_name, mb, s), 0) for s in ("warming", "ready"))
                taken = await ports.taken(conn, host_name)
                engine = get_engine(engine_name)
                slot_settings = engine.slot_settings(mb, tls=self.settings.tls.default_for(engine_name))
                assert slot_settings is not None  # the inventory checked the class
                for _ in range(size - have):
                    if len(new) >= self.settings.batch_size or committed[host_name] + mb > load.capacity_mb:
                        break
                    port = lowest_free_port(load.port_min, load.port_max, taken)
                    if port is None:
                        break
                    creds = engine.new_credentials()
                    slot = _New(new_id("i-"), hosts[host_name], engine_name, port, slot_settings, creds)
                    await pool_slots.insert_warming(
                        conn,
                        id=slot.slot_id,
                        host=host_name,
                        engine=engine_name,
                        memory_mb=mb,
                        port=port,
                        secrets=self.box.seal(creds.secrets()),
                        settings=slot_settings.model_dump(mode="json"),
                        owner=self.owner,
                        lease_seconds=self.settings.lease_seconds,
                    )
                    taken.add(port)
                    committed[host_name] += mb
                    new.append(slot)
        return new

    async def _certificates(self, new: list[_New]) -> list[_New]:
        """Each TLS slot's certificate, issued before the play (a slot that cannot have one
        is broken and destroyed)."""
        kept = []
        for n in new:
            try:
                n.shipment = await certificates.ship_if_on(
                    self.pool,
                    self.box,
                    self.settings,
                    instance_id=n.slot_id,
                    address=n.host.address,
                    wanted=n.settings,
                )
            except (TlsError, LookupError) as exc:
                async with self.pool.acquire() as conn:
                    await pool_slots.break_slot(
                        conn, n.slot_id, f"no TLS certificate: {exc}", owner=self.owner
                    )
                continue
            kept.append(n)
        return kept

    async def _deploy(self, new: list[_New]) -> RunResult:
        hostvars: dict[str, dict[str, Any]] = {}
        secrets: list[str] = []
        for n in new:
            engine = get_engine(n.engine)
            hostvars[n.slot_id] = {
                **n.host.variables,
                "engine": n.engine,
                "instance_id": n.slot_id,
                "port": n.port,
                "dbvend_host_name": n.host.name,
                "dbvend_wait_ready": False,
                "dbvend_pool_slot": True,
                **engine.role_vars(n.settings, n.creds),
                **(n.shipment.variables if n.shipment else {}),
            }
            secrets.extend((n.creds.password, n.creds.admin_password))
            if n.shipment:
                secrets.append(n.shipment.key_pem)
        heartbeat = asyncio.create_task(self._keep_leases([n.slot_id for n in new]))
        try:
            return await self.runner.run("provision.yml", hostvars, secrets=secrets)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _keep_leases(self, slot_ids: list[str]) -> None:
        every = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            try:
                async with self.pool.acquire() as conn:
                    await pool_slots.renew(conn, slot_ids, self.owner, self.settings.lease_seconds)
            except Exception:
                log.exception("renewing pool slot leases failed")

    async def _check(self, n: _New, result: RunResult) -> str | None:
        """None when the slot's play succeeded and its throwaway account connects through
        the host's address; else why not (redacted)."""
        outcome = result.outcome(n.slot_id)
        facts = result.facts.get(n.slot_id)
        if not outcome.ok or not facts:
            return (outcome.error or "the play reported no facts")[:1000]
        engine = get_engine(n.engine)
        conn_info = engine.slot_connection(n.settings, n.creds, n.host.address, n.port)
        try:
            facts["server_version"] = await wait_ready(
                engine,
                conn_info,
                self.settings.ready_timeout,
                tls_ca=n.shipment.ca_pem if n.shipment else None,
            )
        except NotReady as exc:
            return redact(str(exc), [n.creds.password, n.creds.admin_password])[:1000]
        return None
