"""Where a new instance goes: the least-loaded host that can take it, and the lowest
free port in that host's range. Pure functions; the caller holds the lock and the rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class HostLoad:
    name: str
    capacity_mb: int
    committed_mb: int
    instances: int
    port_min: int
    port_max: int

    def fits(self, memory_mb: int) -> bool:
        return self.committed_mb + memory_mb <= self.capacity_mb

    @property
    def utilisation(self) -> float:
        return self.committed_mb / self.capacity_mb if self.capacity_mb > 0 else 1.0


def choose_host(hosts: Iterable[HostLoad], memory_mb: int) -> HostLoad | None:
    """Lowest committed memory / capacity, then fewest instances, then name (stable)."""
    candidates = [h for h in hosts if h.fits(memory_mb)]
    if not candidates:
        return None
    return min(candidates, key=lambda h: (h.utilisation, h.instances, h.name))


def lowest_free_port(port_min: int, port_max: int, taken: Iterable[int]) -> int | None:
    used = set(taken)
    for port in range(port_min, port_max + 1):
        if port not in used:
            return port
    return None
