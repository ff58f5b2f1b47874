"""restore (POST /instances/{id}/restore): the backup is decrypted from the store into a
0700 staging file (its SHA-256 checked while it is written; a corrupt store file refuses
the restore before the instance is touched), restore.yml replaces the instance's data in
place keeping the old data aside until the new serves, the readiness check runs with the
instance's own credentials, and the staging file is removed. The operation's facts (and a
failure's error) say whether the instance has the new data or was rolled back to the old."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ...backupstore.envelope import CorruptBackup
from ...backupstore.remote import StoreHostError, readable
from ...backupstore.staging import Staging
from ...db import backups, instances
from .backup import store_hosts, store_of
from .day2 import Day2Kind, Done, Plan, Refused

if TYPE_CHECKING:
    from ...db.operations import Operation
    from ..runner import RunResult
    from .base import RunContext

REPORT_KEY = "dbvend_restores"


async def stage_backup(ctx: RunContext, backup: backups.Backup) -> tuple[Path, dict[str, Any]]:
    """The backup's plaintext in a new staging dir, and the restore.yml variables for it.
    Refused (the dir removed) when the store file is missing or does not authenticate."""
    if backup.path is None or backup.sha256 is None:
        raise Refused(f"backup {backup.id} has no file")
    staging = Staging(ctx.settings.staging_dir).make()
    plain = staging / f"{backup.id}.{backup.format}"
    try:
        store = await readable(store_hosts(ctx), store_of(ctx), backup, staging, ctx.box)
        await asyncio.to_thread(store.restore_to, backup.path, backup.sha256, plain)
        if store.root == staging:
            store.remove(backup.path)  # the plaintext is all the play needs
    except (CorruptBackup, StoreHostError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise Refused(f"backup {backup.id} cannot be read from the store: {exc}") from None
    return staging, {
        "restore_file": str(plain),
        "restore_sha256": backup.sha256,
        "restore_format": backup.format,
    }


def restore_note(report: dict[str, Any] | None) -> str:
    if not report:
        return ""
    if report.get("rolled_back"):
        return " (rolled back: the instance keeps its old data)"
    if report.get("restored"):
        return " (the instance has the backup's data)"
    return " (the instance keeps its old data)"


class RestoreKind(Day2Kind):
    name = "restore"
    playbook = "restore.yml"
    runs_from: ClassVar[tuple[str, ...]] = ("running",)

    async def plan(self, ctx: RunContext, op: Operation, inst: instances.Instance) -> Plan:
        plan = await super().plan(ctx, op, inst)
        backup = await backups.get(ctx.pool, str(op.params.get("backup_id", "")), owner_id=inst.owner_id)
        if backup is None or backup.status != "completed":
            raise Refused(f"backup {op.params.get('backup_id')!r} is gone or not completed")
        if backup.engine != inst.engine:
            raise Refused(f"backup {backup.id} is a {backup.engine} backup")
        staging, extra = await stage_backup(ctx, backup)
        plan.extra_vars.update(extra)
        plan.data["staging"] = staging
        return plan

    def facts_of(self, result: RunResult, instance_id: str) -> dict[str, Any] | None:
        report = result.report(REPORT_KEY, instance_id)
        if report is None:
            return None
        return {"restored": bool(report.get("restored")), "rolled_back": bool(report.get("rolled_back"))}

    async def settle(
        self, ctx: RunContext, op: Operation, inst: instances.Instance, plan: Plan, facts: dict[str, Any]
    ) -> str | None:
        if not facts.get("restored"):
            return "the restore did not take" + restore_note(facts)
        facts["backup_id"] = op.params.get("backup_id")
        return None

    def failure_note(self, result: RunResult, instance_id: str) -> str:
        return restore_note(result.report(REPORT_KEY, instance_id))

    async def succeeded(self, done: Done) -> None:
        # The server version may be new (the readiness check); the restore's own report
        # belongs to the operation, not to the instance.
        keep = {k: v for k, v in done.facts.items() if k not in ("restored", "rolled_back", "backup_id")}
        await instances.set_status(done.conn, done.inst.id, "running", only_from=self.runs_from, facts=keep)

    def release(self, ctx: RunContext, plans: dict[str, Plan]) -> None:
        for plan in plans.values():
            staging = plan.data.get("staging")
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
