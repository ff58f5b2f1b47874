"""Bearer tokens this process looked up lately, so a polling client does not cost a
PostgreSQL round trip per request. Bounded both ways: an entry lives `ttl` seconds at
most (and never past the token's expiry), and at most `max_entries` are kept. Every
revocation made through this process (logout, password change, disabling a user, any
change to a user) drops the affected entries at once; one made through another process
is seen within `ttl`."""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import UTC, datetime

from ..db.users import User


class TokenCache:
    def __init__(self, ttl: float = 2.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[User, float]] = OrderedDict()

    def get(self, digest: bytes) -> User | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if time.monotonic() >= entry[1]:
            del self._entries[digest]
            return None
        return entry[0]

    def put(self, digest: bytes, user: User, expires_at: datetime) -> None:
        if self.ttl <= 0:
            return
        left = (expires_at - datetime.now(UTC)).total_seconds()
        if left <= 0:
            return
        self._entries[digest] = (user, time.monotonic() + min(self.ttl, left))
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def drop(self, digest: bytes) -> None:
        self._entries.pop(digest, None)

    def drop_user(self, user_id: int) -> None:
        for digest in [d for d, (u, _) in self._entries.items() if u.id == user_id]:
            del self._entries[digest]

    def __len__(self) -> int:
        return len(self._entries)
