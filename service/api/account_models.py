"""Request bodies of the account routes: quotas, disabling, password changes."""

from __future__ import annotations

from pydantic import Field, StrictBool, StrictInt

from .schemas import Body

MAX_QUOTA_INSTANCES = 100_000
MAX_QUOTA_MEMORY_MB = 16 * 1024 * 1024  # 16 TiB: more than any fleet, well inside integer
MAX_QUOTA_BACKUP_MB = 1024 * 1024 * 1024  # 1 PiB


class QuotaPatch(Body):
    """A key left out keeps its value; null puts it back to the configured default."""

    instances: StrictInt | None = Field(default=None, ge=0, le=MAX_QUOTA_INSTANCES)
    memory_mb: StrictInt | None = Field(default=None, ge=0, le=MAX_QUOTA_MEMORY_MB)
    backup_mb: StrictInt | None = Field(default=None, ge=0, le=MAX_QUOTA_BACKUP_MB)


class UpdateUserRequest(Body):
    quota: QuotaPatch | None = None
    disabled: StrictBool | None = Field(
        default=None, description="true revokes every token of the user and refuses its logins"
    )


class ChangePasswordRequest(Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=12, max_length=1024)
