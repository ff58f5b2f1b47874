"""rotate-certificate (POST /instances/{id}/rotate-certificate; the renewal job at two
thirds of a certificate's life; a CA rotation): a new certificate from the active CA and
the current bundle, shipped by rotate_certificate.yml and reloaded live (MariaDB FLUSH
SSL, Redis CONFIG SET), so open connections stay up; then the readiness check verifies
the new one as a client would. A stopped server gets the files and reads them at start.

The certificate is recorded pending before the play and becomes current only when the
operation succeeds: a crash in between leaves the server with the old one or the new one,
both valid (the old CA stays in the bundle until nothing it signed is left), and the
retry ships the same pending certificate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...engines.base import TLS_OFF, tls_mode
from .. import certificates
from .day2 import Day2Kind, Done, Plan, Refused

if TYPE_CHECKING:
    from ...db import instances
    from ...db.operations import Operation
    from ..runner import RunResult
    from .base import RunContext


class RotateCertificateKind(Day2Kind):
    name = "rotate-certificate"
    playbook = "rotate_certificate.yml"
    runs_from = ("running", "stopped")

    async def plan(self, ctx: RunContext, op: Operation, inst: instances.Instance) -> Plan:
        base = await super().plan(ctx, op, inst)
        if tls_mode(base.settings) == TLS_OFF:
            raise Refused("the instance has TLS off: it has no certificate to rotate")
        host = ctx.hosts[inst.host]
        shipment = await certificates.ship(
            ctx.pool, ctx.box, ctx.settings, instance_id=inst.id, address=host.address
        )
        return Plan(base.settings, base.credentials, shipment=shipment, check_ready=inst.status == "running")

    def facts_of(self, result: RunResult, instance_id: str) -> dict[str, Any] | None:
        """What rotate_certificate.yml reports is this operation's, not the instance's."""
        facts = super().facts_of(result, instance_id)
        if facts is None:
            return None
        return {
            "running": facts.get("running"),
            "certificate_changed": facts.get("certificate_changed"),
            "reloaded": facts.get("reloaded"),
        }

    async def succeeded(self, done: Done) -> None:
        """The instance's row stays as it is (status, facts); certificates.confirm makes the
        new certificate current right after this transaction."""
