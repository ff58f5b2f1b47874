"""The event hub of one service process: one dedicated LISTEN connection (re-established
when lost, catching up on the instance events it missed from the outbox) fans each
notification out to the open streams that may see it, through a bounded queue each.

A subscriber whose queue is full is cut off (its queue is emptied and ends with None), so
a client that does not read never costs more than `queue_size` messages. Tenancy: a
user's stream gets the events and alerts of the user's instances; an admin's gets all."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import asyncpg

from ..db import instance_events
from ..db.instance_detail import VIEWS_CHANNEL
from ..db.pool import connect
from ..errors import TooManyRequests
from ..tasks import Guarded

if TYPE_CHECKING:
    from ..db.users import User

log = logging.getLogger(__name__)

Message = dict[str, Any]
QUEUE_SIZE = 256
CATCH_UP_LIMIT = 1000
PROBE_SECONDS = 5.0
VIEWS_ALL = "*"  # a dbvend_views payload: anything shown may have changed
_RECENT = 4096  # ids already passed on: a catch-up and a live notification may both bring one


class TooManyStreams(TooManyRequests):
    """The user has DBVEND_STREAM_LIMIT streams open in this process."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"at most {limit} open event streams per user; close one first", code="too_many_streams"
        )


class Subscriber:
    def __init__(self, user: User, size: int) -> None:
        self.user_id = user.id
        self.is_admin = user.is_admin
        # None at the end: cut off for not reading fast enough
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(size + 1)
        self.size = size
        self.cut_off = False

    def sees(self, owner_id: int | None) -> bool:
        return self.is_admin or (owner_id is not None and owner_id == self.user_id)

    def offer(self, message: Message) -> None:
        if self.cut_off:
            return
        if self.queue.qsize() < self.size:
            self.queue.put_nowait(message)
            return
        self.cut_off = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class EventHub:
    def __init__(
        self,
        dsn: str,
        *,
        limit: int,
        queue_size: int = QUEUE_SIZE,
        on_instance_event: Callable[[], None] | None = None,
        on_view_change: Callable[[str], None] | None = None,
    ) -> None:
        self.dsn = dsn
        self.limit = limit
        self.queue_size = queue_size
        self.on_instance_event = on_instance_event
        # Each dbvend_views payload; VIEWS_ALL also whenever listening starts or stops (what
        # was announced meanwhile is lost).
        self.on_view_change = on_view_change
        self.listening = asyncio.Event()  # set while the LISTEN connection is up
        self._subscribers: set[Subscriber] = set()
        self._per_user: dict[int, int] = {}
        self._last_id: int | None = None
        self._recent: deque[int] = deque(maxlen=_RECENT)
        self._recent_set: set[int] = set()
        self.tasks = Guarded(log)
        self._conn: asyncpg.Connection | None = None

    async def start(self) -> None:
        self.tasks.spawn("dbvend-event-hub", self._run)

    async def stop(self) -> None:
        await self.tasks.stop()
        for sub in list(self._subscribers):
            sub.offer({"type": "closing"})

    # -- subscribers -------------------------------------------------------------------
    def subscribe(self, user: User) -> Subscriber:
        if self._per_user.get(user.id, 0) >= self.limit:
            raise TooManyStreams(self.limit)
        sub = Subscriber(user, self.queue_size)
        self._subscribers.add(sub)
        self._per_user[user.id] = self._per_user.get(user.id, 0) + 1
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub in self._subscribers:
            self._subscribers.discard(sub)
            left = self._per_user.get(sub.user_id, 1) - 1
            if left > 0:
                self._per_user[sub.user_id] = left
            else:
                self._per_user.pop(sub.user_id, None)

    def listener_pid(self) -> int | None:
        """The PostgreSQL backend of the LISTEN connection (for operators and tests)."""
        conn = self._conn
        return conn.get_server_pid() if conn is not None and not conn.is_closed() else None

    def publish(self, message: Message, owner_id: int | None) -> None:
        for sub in list(self._subscribers):
            if sub.sees(owner_id):
                sub.offer(message)

    # -- the LISTEN connection -----------------------------------------------------------
    async def _run(self) -> None:
        delay = 0.5
        while True:
            lost = asyncio.Event()
            try:
                conn = self._conn = await connect(self.dsn)
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(instance_events.CHANNEL, self._on_notify)
                if self.on_view_change is not None:
                    await conn.add_listener(VIEWS_CHANNEL, self._on_view_notify)
                if self._last_id is None:
                    self._last_id = await instance_events.latest_id(conn)
                else:
                    await self._catch_up(conn)
                self.listening.set()
                self._views_changed(VIEWS_ALL)
                delay = 0.5
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), PROBE_SECONDS)
                    if not lost.is_set():
                        await asyncio.wait_for(instance_events.alive(conn), PROBE_SECONDS)
                log.warning("event hub: the LISTEN connection was lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning(
                    "event hub: LISTEN connection failed (%s); retrying in %.1f s", type(exc).__name__, delay
                )
            finally:
                self.listening.clear()
                self._views_changed(VIEWS_ALL)
                await self._close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
            if not conn.is_closed():
                conn.terminate()

    def _on_view_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        if isinstance(payload, str):
            self._views_changed(payload)

    def _views_changed(self, payload: str) -> None:
        if self.on_view_change is not None:
            try:
                self.on_view_change(payload)
            except Exception:  # a cache must never take the hub down
                log.exception("event hub: view change callback failed")

    async def _catch_up(self, conn: asyncpg.Connection) -> None:
        """Instance events committed while no connection listened (alerts are live only)."""
        assert self._last_id is not None
        missed = await instance_events.since_any(conn, self._last_id, CATCH_UP_LIMIT)
        for owner_id, event in missed:
            self._instance_event(event, owner_id)
        if missed:
            log.info("event hub: caught up on %d instance events", len(missed))

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            note = json.loads(str(payload))
            kind, owner_id, event = note["kind"], note["owner_id"], note["event"]
        except (ValueError, KeyError, TypeError):
            log.warning("event hub: ignored a malformed notification")
            return
        if kind == "instance":
            self._instance_event(event, owner_id)
        else:
            self.publish(event, owner_id)

    def _instance_event(self, event: Message, owner_id: int) -> None:
        event_id = int(event["id"])
        if event_id in self._recent_set:
            return
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(event_id)
        self._recent_set.add(event_id)
        self._last_id = max(self._last_id or 0, event_id)
        self.publish(event, owner_id)
        if self.on_instance_event is not None:
            self.on_instance_event()
