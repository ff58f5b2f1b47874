"""Probing an instance's engine with dbvend's admin account (its own protocol: up or down,
its metrics, its uptime), at most `concurrency` at a time, one attempt each; and what a
probe says about a restart (the engine's start time, probe time - uptime, moved)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ..engines import ProbeResult, get_engine

if TYPE_CHECKING:
    from ..crypto import SecretBox
    from ..db.instances import Instance

log = logging.getLogger("service.monitoring.collector")

# Seconds an engine's start time (probe time - uptime) may wander without a restart: the
# uptime is whole seconds and the probe itself takes a moment on a loaded host.
START_TOLERANCE = 5.0
# Seconds a probe may take: one attempt, so a hung server is seen as down this soon (a
# healthy one answers in milliseconds; one slow answer only makes an alert pending).
PROBE_TIMEOUT = 3.0

Probed = tuple[ProbeResult, float | None]  # a probe, and the engine's start time it implies


class Prober:
    def __init__(self, box: SecretBox, *, timeout: float = PROBE_TIMEOUT, concurrency: int = 16) -> None:
        self.box = box
        self.timeout = timeout
        self._slots = asyncio.Semaphore(concurrency)
        # The CA bundle TLS instances are verified with (certificate and the host's name),
        # refreshed by the collector before each round.
        self.tls_ca: str | None = None

    async def probe(self, inst: Instance) -> ProbeResult:
        try:
            password = self.box.open(inst.secrets)["admin_password"]
        except (ValueError, KeyError) as exc:
            return ProbeResult(False, error=f"cannot read the admin password: {exc}")
        async with self._slots:
            try:
                engine = get_engine(inst.engine)
                tls = str(inst.settings.get("tls", "off")) != "off"
                return await engine.probe(
                    inst.address, inst.port, password, self.timeout, tls_ca=self.tls_ca if tls else None
                )
            except Exception as exc:  # one instance's probe must not end the round
                log.exception("probing %s failed", inst.id)
                return ProbeResult(False, error=f"probe failed: {type(exc).__name__}")

    async def timed(self, inst: Instance) -> Probed:
        """The probe and the engine's start time it implies (epoch seconds; None when the
        engine did not say its uptime)."""
        probe = await self.probe(inst)
        uptime = probe.metrics.get("uptime_seconds") if probe.up else None
        if not isinstance(uptime, int | float) or isinstance(uptime, bool):
            return probe, None
        return probe, time.time() - float(uptime)


def moved(started: float | None, before: float | None) -> bool:
    """Whether the engine's start time moved by more than the tolerance (a restart)."""
    return started is None or before is None or abs(started - before) > START_TOLERANCE


def restarted(probed: Probed, before: float | None, has_container: bool) -> bool:
    """Whether the probe saw the engine start again since the last round it answered, on an
    instance with container state (else the read counts it from Docker)."""
    probe, started = probed
    if not probe.up or started is None or before is None or not has_container:
        return False
    return abs(started - before) > START_TOLERANCE
