"""What a collection round looks at: the running instances of each host with no operation
open on them (a stop, restart or reconfigure in flight takes the server down on purpose:
such an instance is not judged until its operation has ended), and which hosts collect.yml
must read this round."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from ..db import instances as instances_repo
from ..db import repairs as repairs_repo
from .probes import Probed, moved

if TYPE_CHECKING:
    from ..db import Pool
    from ..db.instances import Instance

# A server that started this recently is read by Ansible each round (a second restart
# right after a first would move its start time by less than the tolerance).
FRESH_SECONDS = 30.0


async def running_settled(pool: Pool, host: str, among: Collection[str] | None = None) -> list[Instance]:
    """The host's running instances (of `among`, when given) with no operation open."""
    running = [
        i
        for i in await instances_repo.live_on_host(pool, host)
        if (among is None or i.id in among) and i.status == "running"
    ]
    settled = await repairs_repo.settled(pool, [i.id for i in running])
    return [i for i in running if i.id in settled]


def must_ask(
    insts: list[Instance],
    probes: Mapping[str, Probed],
    *,
    last_read: float | None,
    full_interval: float,
    mono: float,
    containers: Mapping[str, dict[str, Any]],
    started: Mapping[str, float],
) -> bool:
    """Whether collect.yml reads this host in this round: every `full_interval` seconds, and
    at once when one of its probes failed or saw the server start again, or when one of its
    instances is new to this process, was down or started a moment ago."""
    if full_interval <= 0 or last_read is None or mono - last_read >= full_interval:
        return True
    for inst in insts:
        container, (probe, start) = containers.get(inst.id), probes[inst.id]
        if container is None or not container.get("running") or not probe.up:
            return True
        if moved(start, started.get(inst.id)):
            return True  # the server started again since the last round: read its count
        assert start is not None
        if time.time() - start < FRESH_SECONDS:
            return True
    return False
