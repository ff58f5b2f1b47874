"""The events domain's entry point (EventService): the recorded events a caller may see,
and the live stream's parts (the hub, the replay from the outbox, the token checks it
makes through the accounts domain)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..accounts.service import AccountService, Authenticated
from ..context import Context
from ..db import events as events_repo
from ..db import instance_events
from .hub import EventHub, Subscriber

if TYPE_CHECKING:
    from ..db.users import User


class EventService:
    def __init__(self, ctx: Context, hub: EventHub, accounts: AccountService) -> None:
        self.ctx = ctx
        self.hub = hub
        self.accounts = accounts

    async def page(
        self,
        *,
        owner_id: int | None,
        kind: str | None,
        instance_id: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        return await events_repo.page(
            self.ctx.pool,
            owner_id=owner_id,
            kind=kind,
            instance_id=instance_id,
            before_id=before_id,
            limit=limit,
        )

    def subscribe(self, user: User) -> Subscriber:
        """A stream of the user's events; TooManyStreams past DBVEND_STREAM_LIMIT."""
        return self.hub.subscribe(user)

    def unsubscribe(self, sub: Subscriber) -> None:
        self.hub.unsubscribe(sub)

    async def since(self, after: int, owner_id: int | None, limit: int) -> list[dict[str, Any]]:
        """Instance events after `after` (a resumed stream's replay), oldest first."""
        return await instance_events.since(self.ctx.pool, after, owner_id, limit)

    async def authenticate(self, token: str) -> Authenticated:
        return await self.accounts.authenticate(token)

    async def still_valid(self, token: str) -> bool:
        return await self.accounts.still_valid(token)
