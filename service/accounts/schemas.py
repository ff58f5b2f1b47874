"""Request and response bodies of the account routes: logins and tokens, users with their
quota and usage, quota changes, disabling, password changes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, StrictBool, StrictInt

from ..web.contract import Out
from ..web.schemas import Body

USERNAME_PATTERN = r"^[a-z][a-z0-9_.-]{1,62}$"  # a pydantic (Rust regex) pattern: `$` is the end
MAX_QUOTA_INSTANCES = 100_000
MAX_QUOTA_MEMORY_MB = 16 * 1024 * 1024  # 16 TiB: more than any fleet, well inside integer
MAX_QUOTA_BACKUP_MB = 1024 * 1024 * 1024  # 1 PiB


class LoginRequest(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class CreateUserRequest(Body):
    username: str = Field(max_length=63, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=12, max_length=1024)
    is_admin: bool = False


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


# A script's token: at most a year, and a day at least.
MAX_TOKEN_DAYS = 365
LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"  # pydantic (Rust regex): `$` is the end


class CreateTokenRequest(Body):
    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=LABEL_PATTERN,
        description="your name for it (what it is for): letters, digits, spaces, '.', '_', '-'",
        examples=["ci-deploy"],
    )
    expires_in_days: StrictInt = Field(default=90, ge=1, le=MAX_TOKEN_DAYS)


class TokenView(Out):
    id: int
    name: str | None = Field(description="the name it was made with; null: a login's token")
    created_at: datetime
    expires_at: datetime
    current: bool = Field(description="the token of this request")


class TokenList(Out):
    items: list[TokenView]


class NewToken(TokenView):
    token: str = Field(description="the bearer token: shown in this answer only")


class Token(Out):
    token: str
    token_type: Literal["Bearer"]
    expires_at: datetime


class QuotaLine(Out):
    limit: int = Field(description="the limit in force")
    used: int = Field(description="what the user's live (not deleted) instances take now")
    default: bool = Field(description="true when the limit is the configured default")


class Quota(Out):
    instances: QuotaLine
    memory_mb: QuotaLine
    backup_mb: QuotaLine = Field(description="store space of the user's backups (completed, not deleted)")


class User(Out):
    username: str
    is_admin: bool
    created_at: datetime
    disabled: bool = Field(description="a disabled user has no valid token and cannot log in")
    quota: Quota


class UserList(Out):
    items: list[User]
