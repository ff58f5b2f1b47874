"""The brake on password guessing: three budgets checked together, spent before argon2 runs.

- per (account, address): 5 guesses, then each further one waits twice as long as the last
  (15 s, 30 s, 60 s, ... up to 5 min); forgotten after 15 min without a failure, cleared by a
  success.
  This is what stops one client guessing one password, and it locks out nobody else.
- per account, across addresses: 20 failures, refilled at one per 30 s, so guessing one
  account from many addresses stays slow. An address that logged in to the account before
  (within 30 days) skips this budget, so an attacker spending it cannot lock the real user
  out from where they usually log in; from a new address they wait for the refill.
- per address, across accounts: 30 failures, refilled at one per 2 s, so one address cannot
  spray a password over many accounts. IPv6 addresses count per /64.

An attempt reserves one unit of each budget before the hash runs (no await between check
and reserve, so N concurrent guesses cannot all pass); a success gives the account and
address units back, a refusal by the password pool (not evaluated) gives everything back.
An unknown name is budgeted like a known one, so the brake does not tell which names exist.

State lives in this process: several service processes each keep their own budgets (so N
processes allow N times the guesses), and a restart forgets them. Each table keeps at most
`max_entries` keys, dropping the least recently used."""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..errors import TooManyRequests

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Policy:
    pair_burst: int = 5
    pair_base_delay: float = 15.0
    pair_max_delay: float = 300.0
    pair_forget: float = 900.0
    account_burst: float = 20
    account_rate: float = 1 / 30
    address_burst: float = 30
    address_rate: float = 1 / 2
    trust_seconds: float = 30 * 86400
    max_entries: int = 20_000


class Throttled(TooManyRequests):
    """Refused before argon2 runs: `budget` says which one is spent (for the log)."""

    def __init__(self, retry_after: float, budget: str) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(
            "too many failed logins; try again later", headers={"Retry-After": str(self.retry_after)}
        )
        self.budget = budget


class _Lru(Generic[K, V]):
    def __init__(self, max_entries: int, make: Callable[[], V]) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._max = max_entries
        self._make = make

    def get(self, key: K) -> V:
        found = self._items.get(key)
        if found is None:
            found = self._items[key] = self._make()
            if len(self._items) > self._max:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return found

    def peek(self, key: K) -> V | None:
        return self._items.get(key)

    def pop(self, key: K) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float) -> None:
        self.tokens = tokens
        self.stamp = time.monotonic()

    def level(self, now: float, burst: float, rate: float) -> float:
        self.tokens = min(burst, self.tokens + (now - self.stamp) * rate)
        self.stamp = now
        return self.tokens


class _Backoff:
    __slots__ = ("count", "last")

    def __init__(self) -> None:
        self.count = 0  # failures and guesses in flight
        self.last = 0.0


@dataclass
class Attempt:
    account: str
    address: str
    charged_account: bool


def address_key(remote: str) -> str:
    """The address a budget counts: IPv4 as is, IPv6 by its /64 (one host holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(remote)
    except ValueError:
        return remote[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginThrottle:
    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = p = policy or Policy()
        self._pairs: _Lru[tuple[str, str], _Backoff] = _Lru(p.max_entries, _Backoff)
        self._accounts: _Lru[str, _Bucket] = _Lru(p.max_entries, lambda: _Bucket(p.account_burst))
        self._addresses: _Lru[str, _Bucket] = _Lru(p.max_entries, lambda: _Bucket(p.address_burst))
        self._trusted: _Lru[tuple[str, str], list[float]] = _Lru(p.max_entries, lambda: [0.0])

    def _pair_wait(self, pair: _Backoff, now: float) -> float:
        p = self.policy
        if pair.count and now - pair.last > p.pair_forget:
            pair.count = 0
        if pair.count < p.pair_burst:
            return 0.0
        delay = min(p.pair_max_delay, p.pair_base_delay * 2.0 ** min(pair.count - p.pair_burst, 32))
        return max(0.0, pair.last + delay - now)

    def _is_trusted(self, account: str, address: str, now: float) -> bool:
        seen = self._trusted.peek((account, address))
        return seen is not None and now - seen[0] < self.policy.trust_seconds

    def reserve(self, account: str, remote: str) -> Attempt:
        """Spend one guess of every budget that applies, or raise Throttled spending none."""
        p = self.policy
        now = time.monotonic()
        address = address_key(remote)
        pair = self._pairs.get((account, address))
        waits: list[tuple[float, str]] = []
        pair_wait = self._pair_wait(pair, now)
        if pair_wait > 0:
            waits.append((pair_wait, "account and address"))
        charge_account = not self._is_trusted(account, address, now)
        account_bucket = self._accounts.get(account) if charge_account else None
        if account_bucket is not None and account_bucket.level(now, p.account_burst, p.account_rate) < 1:
            waits.append(((1 - account_bucket.tokens) / p.account_rate, "account"))
        address_bucket = self._addresses.get(address)
        if address_bucket.level(now, p.address_burst, p.address_rate) < 1:
            waits.append(((1 - address_bucket.tokens) / p.address_rate, "address"))
        if waits:
            wait, budget = max(waits)
            raise Throttled(wait, budget)
        pair.count += 1
        pair.last = now
        if account_bucket is not None:
            account_bucket.tokens -= 1
        address_bucket.tokens -= 1
        return Attempt(account, address, charge_account)

    def _refund(self, attempt: Attempt) -> None:
        p = self.policy
        if attempt.charged_account:
            bucket = self._accounts.get(attempt.account)
            bucket.tokens = min(p.account_burst, bucket.tokens + 1)
        bucket = self._addresses.get(attempt.address)
        bucket.tokens = min(p.address_burst, bucket.tokens + 1)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the pair starts afresh and the address is trusted."""
        self._refund(attempt)
        self._pairs.pop((attempt.account, attempt.address))
        self._trusted.get((attempt.account, attempt.address))[0] = time.monotonic()

    def failed(self, attempt: Attempt) -> None:
        """The guess stays spent; the pair's backoff counts from now."""
        pair = self._pairs.get((attempt.account, attempt.address))
        pair.last = time.monotonic()

    def cancel(self, attempt: Attempt) -> None:
        """The guess was never evaluated: everything it reserved is given back."""
        self._refund(attempt)
        pair = self._pairs.peek((attempt.account, attempt.address))
        if pair is not None and pair.count > 0:
            pair.count -= 1

    def reset(self) -> None:
        """Forget every budget and trusted address (tests; an operator's restart does the same)."""
        for table in (self._pairs, self._accounts, self._addresses, self._trusted):
            table.clear()
