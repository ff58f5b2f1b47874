"""bind and unbind (service/credentials): one extra user of an instance made or
removed by playbooks/bind.yml / unbind.yml, the application account untouched.

A bind's readiness check connects as the new user (Plan.connection), so `active` means a
client can use it. Its password is sealed in the credential's row, never in the
operation's params; the play sees only its hash. A bind that fails for good is undone
(unbind.yml drops the user, whatever part of it the play made) and the credential is
`failed`; an unbind that fails leaves it `failed` too (asking for the delete again runs
another). Both plays are idempotent, so a worker's crash is a re-run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...db import credentials as repo
from ...engines import get_engine
from .day2 import Day2Kind, Done, Plan, Refused

if TYPE_CHECKING:
    from ...crypto import SecretBox
    from ...db import Conn, instances
    from ...db.operations import Operation
    from .base import RunContext


def credential_secrets(box: SecretBox, row: repo.CredentialRow) -> dict[str, str]:
    """{"password": ...}: the sealed part of a credential's row."""
    opened = box.open(row.sealed)
    return {"password": str(opened["password"])}


async def _credential(ctx: RunContext, op: Operation, wanted: str) -> repo.CredentialRow:
    found = await repo.get_by_id(ctx.pool, str(op.params.get("credential_id", "")))
    if found is None or found.status != wanted or found.operation_id != op.id:
        state = "gone" if found is None else found.status
        raise Refused(f"the credential is {state}; this operation no longer acts on it")
    return found


class BindKind(Day2Kind):
    name = "bind"
    playbook = "bind.yml"

    async def plan(self, ctx: RunContext, op: Operation, inst: instances.Instance) -> Plan:
        base = await super().plan(ctx, op, inst)
        cred = await _credential(ctx, op, "creating")
        password = credential_secrets(ctx.box, cred)["password"]
        engine = get_engine(inst.engine)
        host = ctx.hosts[inst.host]  # run() checked it is in the inventory
        return Plan(
            base.settings,
            base.credentials,
            extra_vars=engine.credential_vars(cred.username, password),
            secrets=(password,),
            data={"credential_id": cred.id},
            connection=engine.credential_connection(
                base.settings, cred.username, password, host.address, inst.port
            ),
        )

    async def succeeded(self, done: Done) -> None:
        # The instance's own row is not this operation's: only the credential changes.
        await repo.set_status(done.conn, done.plan.data["credential_id"], "active", only_from=("creating",))

    async def failed(self, ctx: RunContext, conn: Conn, op: Operation, error: str) -> None:
        await repo.set_status(
            conn,
            str(op.params.get("credential_id", "")),
            "failed",
            error=error[:2000],
            only_from=("creating",),
        )

    async def undo_plan(
        self, ctx: RunContext, op: Operation, inst: instances.Instance
    ) -> tuple[str, Plan] | None:
        """The play may have made the user before the check failed: drop it."""
        cred = await _credential(ctx, op, "creating")
        base = await super().plan(ctx, op, inst)
        engine = get_engine(inst.engine)
        return "unbind.yml", Plan(
            base.settings, base.credentials, extra_vars=engine.credential_vars(cred.username, None)
        )


class UnbindKind(Day2Kind):
    name = "unbind"
    playbook = "unbind.yml"
    wait_ready = False  # the user is gone; nothing of the server restarted

    async def plan(self, ctx: RunContext, op: Operation, inst: instances.Instance) -> Plan:
        base = await super().plan(ctx, op, inst)
        cred = await _credential(ctx, op, "deleting")
        engine = get_engine(inst.engine)
        return Plan(
            base.settings,
            base.credentials,
            extra_vars=engine.credential_vars(cred.username, None),
            data={"credential_id": cred.id},
        )

    async def succeeded(self, done: Done) -> None:
        await repo.remove(done.conn, done.plan.data["credential_id"])

    async def failed(self, ctx: RunContext, conn: Conn, op: Operation, error: str) -> None:
        await repo.set_status(
            conn,
            str(op.params.get("credential_id", "")),
            "failed",
            error=error[:2000],
            only_from=("deleting",),
        )
