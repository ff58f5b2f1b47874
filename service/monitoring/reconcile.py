"""Reconciliation by level: after each collection round, compare what should run (running
instances) with what the hosts reported, and act. A container that stopped behind
dbvend's back (exited, created, dead: the restart policy will not bring it back) gets a
repair operation, which the worker runs like any other (re-running provision.yml, which
starts it; crash-safe, batched); a running instance with no container is an event.
Instances with an operation open are left alone: that operation owns them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..db import events as events_repo
from ..db import operations, repairs
from ..db.events import Event
from .collector import Round
from .restarts import STOPPED

if TYPE_CHECKING:
    from ..db import Pool

log = logging.getLogger(__name__)


async def reconcile(pool: Pool, current: Round, *, max_attempts: int) -> list[str]:
    """Queue repairs and record events for this round; returns the instance ids repaired."""
    suspects = [
        s.sample
        for s in current.states
        # A carried container state is the last read's, judged in the round that read it.
        if s.id not in current.carried
        and (s.sample.container_status == "missing" or s.sample.container_status in STOPPED)
    ]
    if not suspects:
        return []
    settled = await repairs.settled(pool, [s.instance_id for s in suspects])
    events: list[Event] = []
    repaired: list[str] = []
    for sample in suspects:
        iid = sample.instance_id
        if iid not in settled:
            continue
        inst = current.instances[iid]
        if sample.container_status == "missing":
            before = current.previous.get(iid)
            if before is None or before.container_status != "missing":  # say it once, not every round
                events.append(
                    Event(
                        kind="container_missing",
                        severity="critical",
                        source="collector",
                        instance_id=iid,
                        subject=inst.host,
                        message=f"instance {iid} is running in dbvend"
                        f" but host {inst.host} has no container for it",
                        details={"host": inst.host},
                    )
                )
            continue
        container = current.containers.get(iid, {})
        operation_id = operations.new_operation_id()
        reason = (
            f"container {container.get('name', iid)} was {sample.container_status}"
            f" (exit code {container.get('exit_code')}) and its restart policy will not start it"
        )
        if await repairs.queue(pool, operation_id, iid, reason, max_attempts=max_attempts):
            repaired.append(iid)
            events.append(
                Event(
                    kind="repair_queued",
                    severity="warning",
                    source="collector",
                    instance_id=iid,
                    subject=inst.host,
                    message=f"{reason}; starting it again (operation {operation_id})",
                    details={"operation_id": operation_id, "container_status": sample.container_status},
                )
            )
            log.warning("instance %s: %s; repair %s queued", iid, reason, operation_id)
    await events_repo.insert_many(pool, events)
    return repaired
