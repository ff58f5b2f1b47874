"""Rendered answers of the hot read routes (an instance's detail, instance list pages), kept
by this process until PostgreSQL says what they show changed.

Migration 0026 makes every change of an instance, its newest sample, its open alerts or a
host announce itself on channel dbvend_views, from the writing transaction itself; the event
hub's LISTEN connection passes each one to `invalidate`. So an entry is dropped within
milliseconds of a change by any process, and nothing is cached while that connection is down
(missed notifications): the connection going and coming back empties everything.

Two rules keep an answer from outliving its data:
  - an answer read from PostgreSQL is stored only if no invalidation arrived since its read
    began (`generation`): a change committed during the read may be announced before the
    read returns, and storing afterwards would keep the old answer;
  - every entry also ends at `expires` (its health turning stale with time, and a bound
    of `ttl` seconds whatever happens), so a missed notification is a bounded staleness,
    not a permanent one.
Tenancy: an entry records the owner it was read for; only that owner or an administrator
is served it, and a list page is keyed by whose instances it lists."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

ALL = "*"
DETAIL_ONLY = "d:"
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Entry:
    body: bytes
    owner_id: int
    expires: float  # time.monotonic()


class ViewCache:
    def __init__(self, ttl: float = 10.0, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.ttl = ttl
        # Per kind (details, pages), least recently stored out first: a tenant asking for
        # many distinct pages costs memory up to this bound, not more.
        self.max_bytes = max_bytes
        self.generation = 0
        self.hits = 0
        self.misses = 0
        self._details: OrderedDict[str, Entry] = OrderedDict()
        self._pages: OrderedDict[Hashable, Entry] = OrderedDict()
        self._detail_bytes = 0
        self._page_bytes = 0
        self._listening: Callable[[], bool] = lambda: False

    @property
    def size(self) -> int:
        """Bytes of answers kept."""
        return self._detail_bytes + self._page_bytes

    def attach(self, listening: Callable[[], bool]) -> None:
        """Caching starts once told how to know the LISTEN connection is up."""
        self._listening = listening

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self._listening()

    def notified(self, payload: str) -> None:
        """A notification: ALL (anything may have changed), `d:<instance id>` (its newest
        sample or open alerts: only its detail shows those) or `<instance id>`."""
        self.generation += 1
        if payload == ALL:
            self._details.clear()
            self._detail_bytes = 0
        else:
            detail_only = payload.startswith(DETAIL_ONLY)
            gone = self._details.pop(payload[len(DETAIL_ONLY) :] if detail_only else payload, None)
            if gone is not None:
                self._detail_bytes -= len(gone.body)
            if detail_only:
                return
        # A page lists many instances and is cheap to rebuild: any change drops them all.
        self._pages.clear()
        self._page_bytes = 0

    # -- an instance's detail ---------------------------------------------------------
    def detail(self, instance_id: str, viewer_id: int | None) -> bytes | None:
        """The cached detail, if `viewer_id` (None: an administrator) may see it."""
        entry = self._details.get(instance_id) if self.enabled else None
        if entry is None or time.monotonic() >= entry.expires:
            self.misses += 1
            return None
        if viewer_id is not None and viewer_id != entry.owner_id:
            self.misses += 1
            return None  # read again: PostgreSQL's owner filter answers 404
        self.hits += 1
        return entry.body

    def keep_detail(
        self, generation: int, instance_id: str, owner_id: int, body: bytes, valid_for: float
    ) -> None:
        if not self.enabled or generation != self.generation:
            return
        entry = Entry(body, owner_id, time.monotonic() + min(self.ttl, valid_for))
        self._detail_bytes = _put(self._details, instance_id, entry, self._detail_bytes, self.max_bytes)

    # -- list pages -------------------------------------------------------------------
    def page(self, key: Hashable) -> bytes | None:
        found = self._pages.get(key) if self.enabled else None
        if found is None or time.monotonic() >= found.expires:
            self.misses += 1
            return None
        self.hits += 1
        return found.body

    def keep_page(self, generation: int, key: Hashable, body: bytes) -> None:
        if not self.enabled or generation != self.generation:
            return
        entry = Entry(body, -1, time.monotonic() + self.ttl)  # the key says whose page it is
        self._page_bytes = _put(self._pages, key, entry, self._page_bytes, self.max_bytes)


def _put(entries: OrderedDict[K, Entry], key: K, entry: Entry, used: int, budget: int) -> int:
    """Store, evict the oldest until `budget` holds; the bytes now used."""
    before = entries.pop(key, None)
    if before is not None:
        used -= len(before.body)
    if len(entry.body) > budget:
        return used
    entries[key] = entry
    used += len(entry.body)
    while used > budget:
        _, oldest = entries.popitem(last=False)
        used -= len(oldest.body)
    return used


class _ViewCacheFigures(Collector):
    """This process's cache of rendered details and list pages, for /metrics."""

    def __init__(self, cache: ViewCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        reads = CounterMetricFamily(
            "dbvend_view_cache_reads",
            "Instance detail and list reads of this process, by whether its cache answered.",
            labels=["result"],
        )
        reads.add_metric(["hit"], self.cache.hits)
        reads.add_metric(["miss"], self.cache.misses)
        yield reads
        yield GaugeMetricFamily(
            "dbvend_view_cache_bytes", "Bytes of rendered answers this process keeps.", value=self.cache.size
        )


async def exposition(cache: ViewCache) -> bytes:
    """The cache's figures in the Prometheus text format (a part of /metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ViewCacheFigures(cache))
    return generate_latest(registry)
