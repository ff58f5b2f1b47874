"""How a user looks in JSON: flags, the quota in force and what the user's instances use."""

from __future__ import annotations

from ..db.users import Account, User
from ..operations.quota import QuotaDefaults
from .schemas import Quota, QuotaLine
from .schemas import User as UserView


def _line(override: int | None, default: int, used: int) -> QuotaLine:
    return QuotaLine(limit=default if override is None else override, used=used, default=override is None)


def account_view(account: Account, defaults: QuotaDefaults) -> UserView:
    user = account.user
    return UserView(
        username=user.username,
        is_admin=user.is_admin,
        created_at=user.created_at,
        disabled=account.disabled,
        quota=Quota(
            instances=_line(account.quota_instances, defaults.instances, account.used_instances),
            memory_mb=_line(account.quota_memory_mb, defaults.memory_mb, account.used_memory_mb),
            backup_mb=_line(account.quota_backup_mb, defaults.backup_mb, account.used_backup_mb),
        ),
    )


def new_account(user: User) -> Account:
    """A user just created: no overrides, nothing in use."""
    return Account(user, False, None, None, 0, 0)
