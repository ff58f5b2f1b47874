"""Docker hosts from the Ansible inventory (group `dbvend_hosts`), read the way Ansible
reads it: `ansible-inventory --list` merges group_vars and host_vars for us."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engines import ENGINES

GROUP = "dbvend_hosts"
# No host keeps more tenant-less containers than this per class.
_MAX_SLOTS = 500
REQUIRED = ("dbvend_address", "dbvend_port_range", "dbvend_capacity_mb", "dbvend_data_root")


class InventoryError(ValueError):
    """The inventory cannot be used; the message names the host and the variable."""


@dataclass(frozen=True)
class DockerHost:
    name: str
    address: str
    port_min: int
    port_max: int
    capacity_mb: int
    data_root: str
    variables: Mapping[str, Any] = field(default_factory=dict)
    # The warm pool (dbvend_pool): engine -> size class (container memory MB) -> slot count.
    pool: Mapping[str, Mapping[int, int]] = field(default_factory=dict)


def _host_from_vars(name: str, hostvars: Mapping[str, Any]) -> DockerHost:
    missing = [var for var in REQUIRED if var not in hostvars]
    if missing:
        raise InventoryError(f"host {name!r} lacks {', '.join(missing)}")
    port_range = hostvars["dbvend_port_range"]
    try:
        port_min, port_max = (int(p) for p in port_range)
    except (TypeError, ValueError):
        raise InventoryError(f"host {name!r}: dbvend_port_range must be [first, last]") from None
    if not 1024 <= port_min <= port_max <= 65535:
        raise InventoryError(f"host {name!r}: dbvend_port_range {port_range} is not within 1024-65535")
    try:
        capacity = int(hostvars["dbvend_capacity_mb"])
    except (TypeError, ValueError):
        raise InventoryError(f"host {name!r}: dbvend_capacity_mb must be an integer") from None
    return DockerHost(
        name=name,
        address=str(hostvars["dbvend_address"]),
        port_min=port_min,
        port_max=port_max,
        capacity_mb=capacity,
        data_root=str(hostvars["dbvend_data_root"]),
        variables=dict(hostvars),
        pool=_pool(name, hostvars.get("dbvend_pool")),
    )


def _count(name: str, where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_SLOTS:
        raise InventoryError(f"host {name!r}: dbvend_pool {where} must be a count from 0 to {_MAX_SLOTS}")
    return value


def _pool(name: str, raw: object) -> dict[str, dict[int, int]]:
    """dbvend_pool: {redis: 4} (the engine's default size class) or {redis: {192: 4, 320: 2}}
    (container memory MB -> count). Every class must be one the engine can size exactly."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InventoryError(f"host {name!r}: dbvend_pool must be a mapping of engine -> count")
    pool: dict[str, dict[int, int]] = {}
    for engine_name, spec in raw.items():
        engine = ENGINES.get(str(engine_name))
        if engine is None:
            raise InventoryError(
                f"host {name!r}: dbvend_pool names engine {str(engine_name)[:40]!r};"
                f" known: {', '.join(sorted(ENGINES))}"
            )
        if isinstance(spec, Mapping):
            classes = {}
            for mb, count in spec.items():
                if isinstance(mb, bool) or not isinstance(mb, int | str) or not str(mb).isdigit():
                    raise InventoryError(f"host {name!r}: dbvend_pool.{engine.name} classes are memory MB")
                classes[int(mb)] = _count(name, f"{engine.name}.{mb}", count)
        else:
            default_mb = engine.memory_mb(engine.parse_settings(None, instance_name="pool"))
            classes = {default_mb: _count(name, engine.name, spec)}
        for mb in classes:
            if engine.slot_settings(mb) is None:
                raise InventoryError(
                    f"host {name!r}: dbvend_pool.{engine.name} class {mb} MB is not a size"
                    f" the {engine.name} engine can give a slot"
                )
        pool[engine.name] = {mb: n for mb, n in classes.items() if n > 0}
    return {e: c for e, c in pool.items() if c}


def hosts_from_listing(listing: Mapping[str, Any]) -> list[DockerHost]:
    """Hosts of group dbvend_hosts (children included) from `ansible-inventory --list` JSON."""
    hostvars: Mapping[str, Mapping[str, Any]] = listing.get("_meta", {}).get("hostvars", {})
    names: list[str] = []
    pending = [GROUP]
    seen: set[str] = set()
    while pending:
        group = pending.pop()
        if group in seen:
            continue
        seen.add(group)
        entry = listing.get(group, {})
        names.extend(h for h in entry.get("hosts", []) if h not in names)
        pending.extend(entry.get("children", []))
    if not names:
        raise InventoryError(f"the inventory has no hosts in group {GROUP!r}")
    return [_host_from_vars(name, hostvars.get(name, {})) for name in sorted(names)]


async def load_inventory(path: Path) -> list[DockerHost]:
    binary = Path(sys.executable).with_name("ansible-inventory")
    proc = await asyncio.create_subprocess_exec(
        str(binary),
        "-i",
        str(path),
        "--list",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise InventoryError(f"ansible-inventory failed on {path}: {err.decode(errors='replace')[-500:]}")
    return hosts_from_listing(json.loads(out))
