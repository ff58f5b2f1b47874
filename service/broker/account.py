"""The dbvend account that owns the broker's instances: made on first use with a password no
one knows (the broker acts for it; an admin sees and manages its instances in /api/v1)."""

from __future__ import annotations

from ..db.users import User
from .protocol import BrokerError
from .services import Broker


async def broker_account(svc: Broker) -> User:
    broker = svc.ctx.settings.broker
    assert broker is not None  # the middleware answered 404 otherwise
    # Read on every request: an admin disabling the account stops the broker at once.
    found = await svc.accounts.service_account(broker.account)
    if found is None:  # pragma: no cover - created just above
        raise BrokerError(503, "the broker's account could not be made")
    if found.disabled:
        raise BrokerError(503, f"the broker's account {broker.account!r} is disabled by an admin")
    if found.user.is_admin:
        raise BrokerError(503, f"the broker's account {broker.account!r} must not be an admin")
    return found.user
