"""What several kinds use: a provision.yml batch (create and repair), the deprovision run
(create's cleanup and delete), and the event recorded when an operation fails for good."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...db.events import Event
from ...db.tls_authorities import bundle_pem
from ...engines import Credentials, get_engine
from ...engines.base import TLS_OFF, tls_mode
from ...engines.readiness import NotReady, wait_ready
from .. import certificates
from ..certificates import Shipment
from ..runner import RunResult, redact

if TYPE_CHECKING:
    from ...db import instances
    from ...db.operations import Operation
    from ...inventory import DockerHost
    from .base import RunContext


def failure_event(op: Operation, inst: instances.Instance, error: str) -> Event:
    """What monitoring records when an operation fails for good (the error is redacted)."""
    return Event(
        kind="provisioning_failed",
        severity="critical",
        source="worker",
        instance_id=inst.id,
        subject=inst.host,
        message=f"{op.kind} {op.id} of {inst.id} failed: {error}"[:1000],
        details={"operation_id": op.id, "kind": op.kind, "reason": error[:1000], "attempts": op.attempts},
    )


@dataclass
class ProvisionBatch:
    """Instances that go through one provision.yml run, and the secrets to mask in it."""

    members: dict[str, tuple[Operation, instances.Instance]] = field(default_factory=dict)
    hostvars: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    # What a client gets (held in memory only): the readiness check connects with it.
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The CA bundle the readiness check verifies an instance with (TLS on), and the
    # certificates the run ships (confirmed current when it succeeded).
    tls_ca: dict[str, str] = field(default_factory=dict)
    shipments: dict[str, Shipment] = field(default_factory=dict)
    # Members the readiness check leaves alone (a stopped server given a new certificate).
    unchecked: set[str] = field(default_factory=set)

    def ship(self, instance_id: str, shipment: Shipment) -> None:
        """The certificate goes with the instance's variables; its key is masked in errors."""
        self.hostvars[instance_id].update(shipment.variables)
        self.secrets.append(shipment.key_pem)
        self.shipments[instance_id] = shipment
        self.tls_ca[instance_id] = shipment.ca_pem

    def drop(self, instance_id: str) -> None:
        for part in (self.members, self.hostvars, self.connections, self.tls_ca, self.shipments):
            part.pop(instance_id, None)


async def enlist(
    ctx: RunContext,
    batch: ProvisionBatch,
    op: Operation,
    inst: instances.Instance,
    host: DockerHost,
    *,
    ship: bool = False,
) -> None:
    """Adds the instance to the run as its own inventory host, with its role variables;
    with TLS on, its certificate (`ship`: a create, on the host it is placed on now) or the
    bundle its readiness check verifies against (the files on the host are kept)."""
    engine = get_engine(inst.engine)
    creds = Credentials.from_secrets(inst.username, ctx.box.open(inst.secrets))
    settings = engine.settings_model.model_validate(inst.settings)
    batch.hostvars[inst.id] = {
        **host.variables,
        "engine": inst.engine,
        "instance_id": inst.id,
        "port": inst.port,
        "dbvend_host_name": host.name,
        # The worker waits for the server itself (readiness.py), not the play.
        "dbvend_wait_ready": False,
        **engine.role_vars(settings, creds),
    }
    batch.secrets.extend((creds.password, creds.admin_password))
    batch.members[inst.id] = (op, inst)
    batch.connections[inst.id] = engine.connection(settings, creds, host.address, inst.port)
    if tls_mode(settings) == TLS_OFF:
        return
    if ship:
        shipment = await certificates.ship(
            ctx.pool, ctx.box, ctx.settings, instance_id=inst.id, address=host.address
        )
        batch.ship(inst.id, shipment)
    else:
        batch.tls_ca[inst.id] = await bundle_pem(ctx.pool)


async def keep_held(ctx: RunContext, batch: ProvisionBatch, what: str) -> bool:
    """Right before the play: drop members whose lease is gone (the worker slept past it)."""
    if not batch.members:
        return False
    still = await ctx.holding([op for op, _ in batch.members.values()], what)
    keep = {op.id for op in still}
    for instance_id, (op, _) in list(batch.members.items()):
        if op.id not in keep:
            batch.drop(instance_id)
    return bool(batch.members)


async def provision(ctx: RunContext, batch: ProvisionBatch) -> tuple[RunResult, dict[str, str]]:
    """One provision.yml run for the batch, then the readiness check of what it started."""
    result = await ctx.runner.run("provision.yml", batch.hostvars, secrets=batch.secrets)
    return result, await await_ready(ctx, batch, result)


async def await_ready(ctx: RunContext, batch: ProvisionBatch, result: RunResult) -> dict[str, str]:
    """Connects to every instance the play started, all at once, as its user will; the
    server version goes into its facts. Returns why each one that did not answer failed."""
    not_ready: dict[str, str] = {}

    async def check(instance_id: str, engine: str) -> None:
        facts = result.facts[instance_id]
        try:
            facts["server_version"] = await wait_ready(
                get_engine(engine),
                batch.connections[instance_id],
                ctx.settings.ready_timeout,
                tls_ca=batch.tls_ca.get(instance_id),
            )
        except NotReady as exc:
            not_ready[instance_id] = redact(str(exc), batch.secrets)

    await asyncio.gather(
        *(
            check(instance_id, inst.engine)
            for instance_id, (_, inst) in batch.members.items()
            if result.outcome(instance_id).ok
            and result.facts.get(instance_id)
            and instance_id not in batch.unchecked
        )
    )
    return not_ready


async def deprovision(ctx: RunContext, insts: list[instances.Instance]) -> RunResult | None:
    """One deprovision.yml run for these instances; None when none is on a known host."""
    hostvars = {}
    for inst in insts:
        host = ctx.hosts.get(inst.host)
        if host is None:
            continue
        hostvars[inst.id] = {
            **host.variables,
            "engine": inst.engine,
            "instance_id": inst.id,
            "dbvend_host_name": host.name,
        }
    if not hostvars:
        return None
    return await ctx.runner.run("deprovision.yml", hostvars)
