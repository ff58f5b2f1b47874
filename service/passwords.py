"""Password hashing off the event loop, on a small thread pool of its own.

argon2 is memory-hard on purpose (64 MiB and tens of milliseconds a call). Run through
asyncio.to_thread it would share the default executor with the Ansible runs and the
monitoring probes, and a login flood would queue them behind thousands of hashes. Here
it gets `workers` threads and at most `queue` jobs waiting; past that the caller is told
at once (`Busy`) and answers 503 with Retry-After instead of queueing without bound."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from . import crypto
from .errors import Unavailable

T = TypeVar("T")


class Busy(Unavailable):
    """Every worker is hashing and the queue is full: 503 with Retry-After."""

    retry_after = 1

    def __init__(self) -> None:
        super().__init__(
            "the service is busy checking passwords; try again shortly",
            headers={"Retry-After": str(self.retry_after)},
        )


class PasswordPool:
    def __init__(self, *, workers: int = 2, queue: int = 16) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._capacity = workers + queue
        self._lock = threading.Lock()
        self._jobs = 0  # running + waiting; released when the thread finishes, not the awaiter
        self.verified = 0  # password checks that reached argon2 (the tests read it)

    @property
    def jobs(self) -> int:
        return self._jobs

    def _submit(self, fn: Callable[..., T], *args: str) -> Future[T]:
        with self._lock:
            if self._jobs >= self._capacity:
                raise Busy
            self._jobs += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return future

    def _release(self, _future: object) -> None:
        with self._lock:
            self._jobs -= 1

    async def verify(self, password_hash: str, password: str) -> bool:
        future = self._submit(crypto.verify_password, password_hash, password)
        self.verified += 1
        return await asyncio.wrap_future(future)

    async def hash(self, password: str) -> str:
        return await asyncio.wrap_future(self._submit(crypto.hash_password, password))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
