"""A create answered from the warm pool: take a ready slot, re-key it for the new tenant
over the engine's own protocol, check it as the tenant would, record the instance. A slot
of the request's size class or of a bigger one serves it (the smallest that has a ready
slot): the re-key sets the server's own limits to the requested size live, the converge run
that follows moves the container's limits through Docker's update, and the instance, its
quota and its host's committed memory count the requested size.

tx1: quota and name pre-checked (without the owner's lock), one ready slot of the class taken with
FOR UPDATE SKIP LOCKED on the least-loaded placeable host and marked claiming under this
process's lease. Then the re-key and the readiness check, outside any transaction. tx2
(the owner's lock again): quota and name re-checked, the slot fenced by the lease becomes
the instance (same id, container, port claim), a succeeded create and a queued converge
are recorded. Credentials exist only in memory until tx2 commits. A process that dies in
between leaves the slot claiming; the keeper's recovery makes it ready again once the
lease runs out (its next claim re-keys everything)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..db import hosts as hosts_repo
from ..db import instances, operations, pool_slots
from ..db.tls_authorities import bundle_pem
from ..engines import Credentials, Engine, Rekey, RekeyFailed, get_engine
from ..engines.base import tls_mode
from ..engines.readiness import NotReady, wait_ready
from ..errors import Conflict, QuotaExceeded
from ..operations import quota
from ..plans.service import Plan, create_settings
from ..pool import metrics
from .intake import Accepted

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..crypto import SecretBox
    from ..db import Pool
    from ..db.users import User
    from ..inventory import DockerHost

log = logging.getLogger(__name__)

# Slots tried per create before the cold path (each failed one is broken and destroyed).
MAX_TRIES = 3
# A claim holds its slot this long at most; the keeper's recovery takes back older ones.
CLAIM_LEASE_SECONDS = 60.0
REKEY_SECONDS = 10.0
READY_SECONDS = 10.0


@dataclass(frozen=True)
class Claim:
    """What the create route needs, given by the app: the process, its hosts and limits."""

    pool: Pool
    box: SecretBox
    hosts: Mapping[str, DockerHost]
    owner: str  # this process (settings.worker_id)
    quotas: quota.QuotaDefaults
    max_attempts: int
    # The deployment's defaults under a create's settings (tls: DBVEND_TLS_DEFAULT, which is
    # also the mode the keeper deploys slots with).
    defaults: Mapping[str, Any]


def pooled_classes(engine: Engine[Any], settings: BaseModel, hosts: Mapping[str, DockerHost]) -> list[int]:
    """The size classes some host pools whose slots (deployed in the settings' TLS mode) can
    become these settings without a restart, smallest first: the request's own size and
    every bigger class (a claim sets the server's limits to the requested size live,
    converge the container's). Empty: the create goes the cold way."""
    classes = {mb for h in hosts.values() for mb, count in h.pool.get(engine.name, {}).items() if count}
    found = []
    for memory_mb in sorted(classes):
        slot = engine.slot_settings(memory_mb, tls=tls_mode(settings))
        if slot is not None and engine.claimable(slot, settings):
            found.append(memory_mb)
    return found


async def claim_create(
    ctx: Claim,
    user: User,
    engine_name: str,
    name: str | None,
    raw: dict[str, Any] | None,
    plan: Plan | None = None,
) -> Accepted | None:
    """The instance made from a slot (running), or None: take the cold path. Raises what
    intake.request_create raises for a refused create (quota, name)."""
    engine = get_engine(engine_name)
    settings = create_settings(engine, plan, raw, instance_name=name or "i-00000000", defaults=ctx.defaults)
    if not any(h.pool.get(engine.name) for h in ctx.hosts.values()):
        return None  # no pool of this engine anywhere: nothing fell back
    classes = pooled_classes(engine, settings, ctx.hosts)
    if not classes:
        metrics.FALLBACKS.labels(engine.name, "not_claimable").inc()
        return None
    reason = "empty"
    tls = tls_mode(settings)
    ca: str | None = None
    for attempt in range(MAX_TRIES):
        started = time.monotonic()
        take = _take(ctx, user, engine, name, engine.memory_mb(settings), classes, tls)
        if attempt == 0 and tls != "off":
            slot, ca = await _with_bundle(ctx, take)
        else:
            slot = await take
        if slot is None:
            break
        final = create_settings(engine, plan, raw, instance_name=name or slot.id, defaults=ctx.defaults)
        accepted = await _turn(ctx, user, engine, slot, name or slot.id, final, plan, ca)
        if accepted is not None:
            metrics.CLAIM_SECONDS.labels(engine.name).observe(time.monotonic() - started)
            return accepted
        reason = "broken"
    metrics.FALLBACKS.labels(engine.name, reason).inc()
    return None


async def _with_bundle(
    ctx: Claim, take: Coroutine[Any, Any, pool_slots.Slot | None]
) -> tuple[pool_slots.Slot | None, str]:
    """The slot and the CA bundle, read side by side (two connections of the pool): the
    bundle costs a TLS claim no time of its own."""
    slot, ca = await asyncio.gather(take, bundle_pem(ctx.pool), return_exceptions=True)
    if isinstance(slot, BaseException):
        raise slot
    if isinstance(ca, BaseException):
        raise ca
    return slot, ca


async def _take(
    ctx: Claim,
    user: User,
    engine: Engine[Any],
    name: str | None,
    memory_mb: int,
    classes: list[int],
    tls: str,
) -> pool_slots.Slot | None:
    """A ready slot of the smallest of `classes` that has one; the quota counts `memory_mb`
    (the request's size, whatever the slot's class)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        # Without the owner's lock: tx2 checks again under it, after the re-key.
        await quota.precheck(conn, user.id, memory_mb, ctx.quotas)
        if name is not None and await instances.name_taken(conn, user.id, name):
            raise Conflict(f"you already have an instance named {name!r}", field="name")
        loads = [h for h in await hosts_repo.placeable_loads(conn) if h.name in ctx.hosts]
        order = [h.name for h in sorted(loads, key=lambda h: (h.utilisation, h.instances, h.name))]
        if not order:
            return None
        return await pool_slots.take(
            conn, engine.name, classes, order, ctx.owner, CLAIM_LEASE_SECONDS, tls=tls
        )


async def _turn(
    ctx: Claim,
    user: User,
    engine: Engine[Any],
    slot: pool_slots.Slot,
    name: str,
    settings: BaseModel,
    plan: Plan | None,
    ca: str | None,
) -> Accepted | None:
    """Re-key and check the slot, then record it as the instance; None when the slot
    failed (it is broken now) or was taken back. `ca`: the CA bundle when the slot serves
    TLS."""
    host = ctx.hosts.get(slot.host)
    slot_secrets = ctx.box.open(slot.secrets)
    fresh = engine.new_credentials()
    creds = Credentials(fresh.username, fresh.password, slot_secrets["admin_password"])
    slot_settings = engine.slot_settings(slot.memory_mb, tls=str(slot.settings.get("tls", "off")))
    # The slot's certificate names its host and its id, which the instance keeps: the claim
    # and the check verify it against the bundle (`ca`) as the tenant will.
    try:
        if host is None or slot_settings is None or not engine.claimable(slot_settings, settings):
            raise RekeyFailed("the slot no longer fits the request")
        target = Rekey(host.address, slot.port, slot_settings, settings, creds, tls_ca=ca)
        version = await engine.rekey(target, REKEY_SECONDS)
        if version is None:
            conn_info = engine.connection(settings, creds, host.address, slot.port)
            version = await wait_ready(engine, conn_info, READY_SECONDS, tls_ca=ca)
    except (RekeyFailed, NotReady) as exc:
        # The messages name the server and the client's error, never a password.
        log.warning("pool slot %s on %s failed its claim: %s", slot.id, slot.host, exc)
        async with ctx.pool.acquire() as conn:
            await pool_slots.break_slot(conn, slot.id, f"claim failed: {exc}", owner=ctx.owner)
        return None
    try:
        return await _record(ctx, user, engine, slot, name, settings, creds, version, plan)
    except TakenBack:
        log.warning("pool slot %s was taken back before its claim was recorded", slot.id)
        return None
    except (QuotaExceeded, Conflict):
        async with ctx.pool.acquire() as conn:
            await pool_slots.unclaim(conn, slot.id, ctx.owner)
        raise


async def _record(
    ctx: Claim,
    user: User,
    engine: Engine[Any],
    slot: pool_slots.Slot,
    name: str,
    settings: BaseModel,
    creds: Credentials,
    version: str,
    plan: Plan | None,
) -> Accepted | None:
    memory_mb = engine.memory_mb(settings)
    stored = settings.model_dump(mode="json")
    facts = {**(slot.facts or {}), "server_version": version}
    async with ctx.pool.acquire() as conn, conn.transaction():
        await quota.check(conn, user.id, memory_mb, ctx.quotas)
        if await instances.name_taken(conn, user.id, name):
            raise Conflict(f"you already have an instance named {name!r}", field="name")
        await instances.insert(
            conn,
            id=slot.id,
            name=name,
            engine=engine.name,
            owner_id=user.id,
            settings=stored,
            memory_mb=memory_mb,
            host=slot.host,
            port=slot.port,
            username=creds.username,
            secrets=ctx.box.seal(creds.secrets()),
            plan=plan.name if plan is not None else None,
        )
        if not await pool_slots.claimed(conn, slot.id, ctx.owner):
            # Our lease ran out and recovery took the slot back: this claim did not happen.
            raise TakenBack(slot.id)
        await instances.set_status(conn, slot.id, "running", only_from=("provisioning",), facts=facts)
        operation_id = await operations.record(
            conn,
            kind="create",
            instance_id=slot.id,
            requested_by=user.id,
            params={
                "engine": engine.name,
                "name": name,
                "settings": stored,
                "host": slot.host,
                "port": slot.port,
                "pool_slot": slot.id,
            },
            max_attempts=ctx.max_attempts,
        )
        await operations.succeed_at_once(conn, operation_id, facts)
        await operations.record(
            conn,
            kind="converge",
            instance_id=slot.id,
            requested_by=user.id,
            params={"pool_slot": slot.id},
            max_attempts=ctx.max_attempts,
        )
    return Accepted(slot.id, operation_id, running=True)


class TakenBack(Exception):
    """The slot's claiming lease was lost before tx2 (recovery made it ready again)."""
