"""The dbvend account that owns the broker's instances: made on first use with a password no
one knows (the broker acts for it; an admin sees and manages its instances in /api/v1)."""

from __future__ import annotations

import asyncio
import secrets

from .. import crypto
from ..api.context import Services
from ..db import users
from ..db.users import User
from .protocol import BrokerError


async def broker_account(svc: Services) -> User:
    broker = svc.settings.broker
    assert broker is not None  # the middleware answered 404 otherwise
    # Read on every request: an admin disabling the account stops the broker at once.
    found = await users.account(svc.pool, broker.account)
    if found is None:
        password_hash = await asyncio.to_thread(crypto.hash_password, secrets.token_urlsafe(32))
        await users.create(svc.pool, broker.account, password_hash, is_admin=False)
        found = await users.account(svc.pool, broker.account)
    if found is None:  # pragma: no cover - created just above
        raise BrokerError(503, "the broker's account could not be made")
    if found.disabled:
        raise BrokerError(503, f"the broker's account {broker.account!r} is disabled by an admin")
    if found.user.is_admin:
        raise BrokerError(503, f"the broker's account {broker.account!r} must not be an admin")
    return found.user
