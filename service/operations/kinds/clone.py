"""A create with `restore_from` (a clone): after provision.yml has started the new
instance, restore.yml loads the backup into it, then the readiness check runs again with
the clone's own credentials, all before the create is recorded as running. A clone whose
restore fails is a failed create: undone (deprovisioned) and retried or failed like one."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from ...db import backups
from .day2 import Refused
from .restore import REPORT_KEY, restore_note, stage_backup
from .shared import ProvisionBatch, await_ready

if TYPE_CHECKING:
    from pathlib import Path

    from ..runner import RunResult
    from .base import RunContext


async def restore_clones(
    ctx: RunContext, batch: ProvisionBatch, provisioned: RunResult, not_ready: dict[str, str]
) -> None:
    """Restore every clone the play started; a failure lands in `not_ready` (its cleanup)."""
    clones = ProvisionBatch(secrets=batch.secrets)
    staged: list[Path] = []
    try:
        for instance_id, (op, inst) in batch.members.items():
            backup_id = op.params.get("restore_from")
            started = provisioned.outcome(instance_id).ok and provisioned.facts.get(instance_id)
            if not backup_id or not started or instance_id in not_ready:
                continue
            backup = await backups.get(ctx.pool, str(backup_id), owner_id=inst.owner_id)
            if backup is None or backup.status != "completed" or backup.engine != inst.engine:
                not_ready[instance_id] = f"clone: backup {backup_id} is gone or cannot go into {inst.engine}"
                continue
            try:
                staging, extra = await stage_backup(ctx, backup)
            except Refused as exc:
                not_ready[instance_id] = f"clone refused: {exc}"
                continue
            staged.append(staging)
            clones.members[instance_id] = (op, inst)
            clones.hostvars[instance_id] = {**batch.hostvars[instance_id], **extra}
            clones.connections[instance_id] = batch.connections[instance_id]
            if instance_id in batch.tls_ca:
                clones.tls_ca[instance_id] = batch.tls_ca[instance_id]
        if not clones.members:
            return
        result = await ctx.runner.run("restore.yml", clones.hostvars, secrets=clones.secrets)
        for instance_id, (op, _) in clones.members.items():
            outcome = result.outcome(instance_id)
            report = result.report(REPORT_KEY, instance_id)
            if not outcome.ok:
                not_ready[instance_id] = (
                    f"restoring backup {op.params['restore_from']} failed: {outcome.error}"
                )
            elif not report or not report.get("restored"):
                not_ready[instance_id] = "the clone's restore did not take" + restore_note(report)
            else:
                provisioned.facts[instance_id]["restored_from"] = op.params["restore_from"]
        # The server answers again after the restore, as its user (the clone's own password).
        ready = ProvisionBatch(secrets=clones.secrets)
        for instance_id in clones.members:
            if instance_id not in not_ready:
                ready.members[instance_id] = clones.members[instance_id]
                ready.connections[instance_id] = clones.connections[instance_id]
                if instance_id in clones.tls_ca:
                    ready.tls_ca[instance_id] = clones.tls_ca[instance_id]
        not_ready.update(await await_ready(ctx, ready, provisioned))
    finally:
        for staging in staged:
            shutil.rmtree(staging, ignore_errors=True)
