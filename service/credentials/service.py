"""Extra credentials of an instance (issue 12, bindings): one more database user each, made
by a `bind` operation and removed by an `unbind`, without touching the application account
or each other. The REST routes (endpoints.py) and the service broker call only this
(CredentialService).

A request records the credential (its password sealed with the service's box) and its
operation in one transaction under the instance's row lock, so two requests for one name are
decided one after the other; the worker's bind/unbind kinds (kinds/credentials.py) act on
the server and record the end."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from ..context import Service
from ..db import credentials as repo
from ..db import instances, operations
from ..db.ids import new_id
from ..engines import get_engine
from ..engines.base import random_credential_username, random_password
from ..errors import Conflict, FieldError, NotFound, SettingsError
from ..operations import admission
from ..operations.kinds.credentials import credential_secrets

if TYPE_CHECKING:
    from ..context import Context
    from ..crypto import SecretBox
    from ..db import Conn, Pool
    from ..db.users import User

# Broker binding ids are UUIDs; people pick names like "ci.reader-2". fullmatch, no backtracking.
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_PER_INSTANCE = 20

Status = Literal["creating", "active", "deleting", "failed"]


@dataclass(frozen=True)
class Credential:
    id: str
    instance_id: str
    name: str
    username: str
    status: Status
    operation_id: str
    created_at: datetime
    error: str | None


def _credential(row: repo.CredentialRow) -> Credential:
    return Credential(
        id=row.id,
        instance_id=row.instance_id,
        name=row.name,
        username=row.username,
        status=cast(Status, row.status),
        operation_id=row.operation_id,
        created_at=row.created_at,
        error=row.error,
    )


def check_name(name: object) -> str:
    """SettingsError naming `name` unless it is 1-64 of [A-Za-z0-9._-]."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SettingsError([FieldError("name", "must be 1-64 letters, digits, '.', '_' or '-'")])
    return name


async def _lock_running(
    conn: Conn, instance_id: str, owner_id: int | None, what: str, *, field: str | None = "status"
) -> instances.Locked:
    row = await admission.lock(conn, instance_id, owner_id)
    if row is None:
        raise NotFound("instance")
    admission.needs_status(row, ("running",), what, field=field)
    admission.in_inventory(row)
    return row


async def request_credential(
    pool: Pool,
    box: SecretBox,
    user: User,
    instance_id: str,
    name: str,
    *,
    owner_id: int | None,
    max_attempts: int,
) -> tuple[Credential, bool]:
    """(the credential, whether this call made it). The same name again answers the one
    there is (created False, nothing recorded); one whose bind failed is bound again (same
    user, new password; created True). NotFound("instance"), Conflict (not running, 20
    already; naming `name` when it is being deleted or its removal failed), SettingsError
    (a bad name)."""
    check_name(name)
    async with pool.acquire() as conn, conn.transaction():
        row = await instances.lock_live(conn, instance_id, owner_id=owner_id)
        if row is None:
            raise NotFound("instance")
        existing = await repo.get(conn, instance_id, name, owner_id=None)
        if existing is not None and existing.status == "deleting":
            raise Conflict(
                f"credential {name!r} is being deleted; its name is free once that ends", field="name"
            )
        if existing is not None and existing.status != "failed":
            return _credential(existing), False
        if existing is not None and await _removal_failed(conn, existing):
            # The server may still have the user: it has to go before the name is free.
            raise Conflict(f"removing credential {name!r} failed; delete it again first", field="name")
        await _lock_running(conn, instance_id, owner_id, "a new credential")
        if existing is None and await repo.count_live(conn, instance_id) >= MAX_PER_INSTANCE:
            raise Conflict(
                f"instance {instance_id} has {MAX_PER_INSTANCE} credentials, the most it may have:"
                " delete one first",
                field="name",
            )
        credential_id = new_id("cr-", 12)
        operation_id = await operations.record(
            conn,
            kind="bind",
            instance_id=instance_id,
            requested_by=user.id,
            params={
                "credential_id": existing.id if existing is not None else credential_id,
                "name": name,
                "previous_status": row.status,
            },
            max_attempts=max_attempts,
        )
        sealed = box.seal({"password": random_password()})
        if existing is not None:
            # Its bind failed: bound again as the same user, so nothing that bind left on the
            # server (an undo that did not run) outlives the row.
            made = await repo.rebind(conn, existing.id, sealed=sealed, operation_id=operation_id)
        else:
            made = await repo.insert(
                conn,
                id=credential_id,
                instance_id=instance_id,
                name=name,
                username=random_credential_username(),
                sealed=sealed,
                operation_id=operation_id,
            )
    return _credential(made), True


async def _removal_failed(conn: Conn, row: repo.CredentialRow) -> bool:
    last = await operations.get(conn, row.operation_id)
    return last is not None and last.kind == "unbind"


async def remove_credential(
    pool: Pool,
    user: User,
    instance_id: str,
    name: str,
    *,
    owner_id: int | None,
    max_attempts: int,
) -> str | None:
    """The unbind operation's id (the open one when it is being deleted already); None when
    the instance has no such credential for this caller (a name no credential can have
    included). Conflict when it is not running."""
    if not _NAME.fullmatch(name):
        return None
    async with pool.acquire() as conn, conn.transaction():
        row = await instances.lock_live(conn, instance_id, owner_id=owner_id)
        if row is None:
            return None
        found = await repo.get(conn, instance_id, name, owner_id=None)
        if found is None:
            return None
        if found.status == "deleting":
            return found.operation_id
        # A removal's refusal names no field (its route has always answered it so).
        await _lock_running(conn, instance_id, owner_id, "removing a credential", field=None)
        operation_id = await operations.record(
            conn,
            kind="unbind",
            instance_id=instance_id,
            requested_by=user.id,
            params={"credential_id": found.id, "name": name, "previous_status": row.status},
            max_attempts=max_attempts,
        )
        await repo.set_status(conn, found.id, "deleting", operation_id=operation_id)
    return operation_id


async def get_credential(
    pool: Pool, instance_id: str, name: str, *, owner_id: int | None
) -> Credential | None:
    if not _NAME.fullmatch(name):
        return None
    found = await repo.get(pool, instance_id, name, owner_id=owner_id)
    return _credential(found) if found is not None else None


async def list_credentials(pool: Pool, instance_id: str, *, owner_id: int | None) -> list[Credential]:
    return [_credential(r) for r in await repo.of_instance(pool, instance_id, owner_id=owner_id)]


async def credential_connection(
    pool: Pool, box: SecretBox, instance_id: str, name: str, *, owner_id: int | None
) -> dict[str, Any] | None:
    """{uri, host, port, username, password, database (mysql)} of an active credential;
    None for any other (or none, or another owner's)."""
    if not _NAME.fullmatch(name):
        return None
    inst = await instances.get(pool, instance_id, owner_id=owner_id)
    found = await repo.get(pool, instance_id, name, owner_id=owner_id)
    if inst is None or found is None or found.status != "active":
        return None
    engine = get_engine(inst.engine)
    password = credential_secrets(box, found)["password"]
    return engine.credential_connection(
        engine.load_settings(inst.settings), found.username, password, inst.address, inst.port
    )


class CredentialService(Service):
    """The entry point the REST routes and the broker call, over the functions above."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)

    async def request(
        self, user: User, instance_id: str, name: str, *, owner_id: int | None
    ) -> tuple[Credential, bool]:
        return await request_credential(
            self.ctx.pool,
            self.ctx.box,
            user,
            instance_id,
            name,
            owner_id=owner_id,
            max_attempts=self.ctx.settings.max_attempts,
        )

    async def remove(self, user: User, instance_id: str, name: str, *, owner_id: int | None) -> str | None:
        return await remove_credential(
            self.ctx.pool,
            user,
            instance_id,
            name,
            owner_id=owner_id,
            max_attempts=self.ctx.settings.max_attempts,
        )

    async def get(self, instance_id: str, name: str, *, owner_id: int | None) -> Credential | None:
        return await get_credential(self.ctx.pool, instance_id, name, owner_id=owner_id)

    async def of_instance(self, instance_id: str, *, owner_id: int | None) -> list[Credential] | None:
        """The instance's credentials, oldest first; None when the caller has no such instance."""
        if await instances.get(self.ctx.pool, instance_id, owner_id=owner_id) is None:
            return None
        return await list_credentials(self.ctx.pool, instance_id, owner_id=owner_id)

    async def connection(self, instance_id: str, name: str, *, owner_id: int | None) -> dict[str, Any] | None:
        return await credential_connection(self.ctx.pool, self.ctx.box, instance_id, name, owner_id=owner_id)


__all__ = [
    "MAX_PER_INSTANCE",
    "Credential",
    "CredentialService",
    "check_name",
    "credential_connection",
    "get_credential",
    "list_credentials",
    "remove_credential",
    "request_credential",
]
