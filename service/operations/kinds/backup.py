"""backup: backup.yml writes the dump (MariaDB) or RDB (Redis) on the instance's host and
fetches it into a 0700 staging dir; the service checks the SHA-256 the role reported
against the fetched file while encrypting it into the store, renames it into place, removes
the plaintext, and only then, in the transaction that ends the operation, marks the backup
`completed`. A re-run after a crash starts the file again; a backup that fails for good
is `failed` with the operation's error. The instance itself is never changed."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ...backupstore.remote import StoreHostError, StoreHosts
from ...backupstore.staging import Staging
from ...backupstore.store import BackupStore, ChecksumMismatch
from ...db import backups, instances
from ...engines import get_engine
from .day2 import Day2Kind, Done, Plan, Refused

if TYPE_CHECKING:
    from ...db import Conn
    from ...db.operations import Operation
    from ..runner import RunResult
    from .base import RunContext

REPORT_KEY = "dbvend_backups"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def store_of(ctx: RunContext) -> BackupStore:
    return BackupStore(ctx.settings.backup_dir, ctx.box)


def store_hosts(ctx: RunContext) -> StoreHosts:
    return StoreHosts(ctx.runner, lambda: ctx.hosts)


class BackupKind(Day2Kind):
    name = "backup"
    playbook = "backup.yml"
    # A final backup runs after its instance was marked deleting (the delete waits behind it).
    runs_from: ClassVar[tuple[str, ...]] = ("running", "stopped", "deleting")
    wait_ready: ClassVar[bool] = False

    async def plan(self, ctx: RunContext, op: Operation, inst: instances.Instance) -> Plan:
        plan = await super().plan(ctx, op, inst)
        backup = await backups.get(ctx.pool, str(op.params.get("backup_id", "")))
        if backup is None or backup.instance_id != inst.id:
            raise Refused(f"backup {op.params.get('backup_id')!r} is gone")
        if backup.status not in ("pending", "running"):
            raise Refused(f"backup {backup.id} is {backup.status} already")
        await backups.started(ctx.pool, backup.id)
        # A crash after an earlier attempt's rename: that file is made again from scratch.
        store_of(ctx).remove(None, backup.id, backup.format)
        dest = Staging(ctx.settings.staging_dir).make()
        plan.extra_vars.update({"backup_id": backup.id, "backup_dest": str(dest)})
        plan.data.update({"backup_id": backup.id, "format": backup.format, "staging": dest})
        return plan

    def facts_of(self, result: RunResult, instance_id: str) -> dict[str, Any] | None:
        return result.report(REPORT_KEY, instance_id)

    async def settle(
        self, ctx: RunContext, op: Operation, inst: instances.Instance, plan: Plan, facts: dict[str, Any]
    ) -> str | None:
        backup_id, fmt = plan.data["backup_id"], plan.data["format"]
        reported = str(facts.get("sha256", "")).lower()
        if (
            facts.get("backup_id") != backup_id
            or facts.get("format") != get_engine(inst.engine).backup_format
        ):
            return f"the play reported another backup ({facts.get('backup_id')!r}, {facts.get('format')!r})"
        if not _SHA256.fullmatch(reported):
            return "the play reported no SHA-256 for the backup"
        # The file is where we asked for it, whatever path the play reports.
        fetched = Path(plan.data["staging"]) / f"{backup_id}.{fmt}"
        if not (await ctx.hold([op.lease])):
            return "lease lost before the backup went into the store"
        remote = ctx.settings.backup_host
        # With a store host, the ciphertext is made in staging and put there from it.
        store = BackupStore(Path(plan.data["staging"]), ctx.box) if remote else store_of(ctx)
        try:
            size, sha256, relative = await asyncio.to_thread(store.put, backup_id, fmt, fetched, reported)
        except ChecksumMismatch as exc:
            return str(exc)
        except FileNotFoundError:
            return f"the play reported the backup but {fetched.name} was not fetched"
        except OSError as exc:
            return f"writing the backup into the store failed: {exc.strerror or exc}"
        if remote:
            try:
                await store_hosts(ctx).put(
                    remote, ctx.settings.backup_host_dir, relative, store.path(relative)
                )
            except StoreHostError as exc:
                return str(exc)
            finally:
                store.remove(relative)
            if not (await ctx.hold([op.lease])):
                return "lease lost while the backup went to the store host"
            plan.data["store_host"] = remote
            plan.data["store_dir"] = ctx.settings.backup_host_dir
        facts.clear()
        facts.update({"backup_id": backup_id, "format": fmt, "size_bytes": size, "sha256": sha256})
        plan.data["stored"] = relative
        return None

    async def succeeded(self, done: Done) -> None:
        await backups.completed(
            done.conn,
            done.plan.data["backup_id"],
            size_bytes=int(done.facts["size_bytes"]),
            sha256=str(done.facts["sha256"]),
            path=done.plan.data["stored"],
            store_host=done.plan.data.get("store_host"),
            store_dir=done.plan.data.get("store_dir"),
        )

    async def failed(self, ctx: RunContext, conn: Conn, op: Operation, error: str) -> None:
        backup_id = str(op.params.get("backup_id", ""))
        found = await backups.get(conn, backup_id)
        await backups.failed(conn, backup_id, error)
        if found is not None:
            store_of(ctx).remove(None, found.id, found.format)

    def release(self, ctx: RunContext, plans: dict[str, Plan]) -> None:
        for plan in plans.values():
            staging = plan.data.get("staging")
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
