"""First start: with no users at all, create `admin`. Its password comes from
DBVEND_ADMIN_PASSWORD, or is generated and written once to a 0600 file whose path
(never the password) goes to the log. Several processes may start at once against one
database (and share one state dir): the check and the creation run under a lock, so only
the process that creates `admin` writes the file and no other overwrites it."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from typing import TYPE_CHECKING

from .. import crypto
from ..config import Settings
from ..db import users

if TYPE_CHECKING:
    from ..db import Pool

log = logging.getLogger(__name__)


async def ensure_admin(pool: Pool, settings: Settings) -> None:
    if await users.count(pool) > 0:
        return
    async with pool.acquire() as conn, conn.transaction():
        await users.lock_first_user(conn)
        if await users.count(conn) > 0:
            return  # another process made it while this one waited
        password = settings.admin_password
        written_to = None
        if password is None:
            password = secrets.token_urlsafe(24)
            path = settings.admin_password_file
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(password + "\n")
            written_to = path
        password_hash = await asyncio.to_thread(crypto.hash_password, password)
        created = await users.create(conn, "admin", password_hash, is_admin=True)
        if created is None:
            return  # a user named admin exists already (made by hand)
    if written_to:
        log.warning("created user 'admin'; its password is in %s", written_to)
    else:
        log.warning("created user 'admin' with the password from DBVEND_ADMIN_PASSWORD")
