"""The runtime starts its components in order and, when one fails to start, stops the ones
before it, newest first: fail each component's start in turn (serve's and the worker's) and
nothing of the runtime is left running (no task, no pool, no connection)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from service.config import Settings
from service.runtime import Component, Runtime, build_runtime
from tests.helpers import create_database, drop_database, service_env, settings_from_env, write_inventory


class Boom(Exception):
    """The start that fails."""


@pytest.fixture(scope="module")
async def settings(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    """A database and state of the module's own: nothing is deployed, so no port is used."""
    url = await create_database()
    work: Path = tmp_path_factory.mktemp("runtime")
    # Monitoring on (test services run without it unless asked), so that every component is
    # built; hourly rounds, so none runs during the test.
    env = service_env(
        url, work / "state", write_inventory(work / "inventory"), DBVEND_COLLECT_INTERVAL="3600"
    )
    yield settings_from_env(env)
    await drop_database(url)


def _watched(runtime: Runtime, failing: int | None) -> tuple[list[str], list[str]]:
    """Wrap every component: the `failing`th start raises; (started, stopped) record names."""
    started: list[str] = []
    stopped: list[str] = []
    for index, component in enumerate(runtime.components):
        real_start, real_stop = component.start, component.stop

        async def start(
            index: int = index, c: Component = component, real: Callable[[], Awaitable[None]] = real_start
        ) -> None:
            if index == failing:
                raise Boom(c.name)
            await real()
            started.append(c.name)

        async def stop(c: Component = component, real: Callable[[], Awaitable[None]] = real_stop) -> None:
            await real()
            stopped.append(c.name)

        component.start, component.stop = start, stop
    return started, stopped


# Set while the runtime under test runs: the tasks it makes (and theirs) inherit it, the
# session service's own do not.
MINE: contextvars.ContextVar[bool] = contextvars.ContextVar("runtime_under_test", default=False)


@contextlib.contextmanager
def _recording() -> Iterator[list[asyncio.Task[Any]]]:
    """Every task made while the block runs by the code it calls (not the session service's)."""
    loop = asyncio.get_running_loop()
    made: list[asyncio.Task[Any]] = []
    before = loop.get_task_factory()

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        if MINE.get():
            made.append(task)
        return task

    loop.set_task_factory(factory)  # type: ignore[arg-type]
    token = MINE.set(True)
    try:
        yield made
    finally:
        MINE.reset(token)
        loop.set_task_factory(before)


async def _left_running(made: list[asyncio.Task[Any]]) -> list[str]:
    await asyncio.sleep(0)  # let cancelled tasks finish
    return sorted(f"{t.get_name()}: {t.get_coro()}" for t in made if not t.done())


@pytest.mark.parametrize("serve", [True, False], ids=["serve", "worker"])
async def test_a_failed_start_leaves_nothing_running(settings: Settings, serve: bool) -> None:
    names = [c.name for c in build_runtime(settings, serve=serve).components]
    assert len(names) == len(set(names))
    for failing, name in enumerate(names):
        runtime = build_runtime(settings, serve=serve)
        started, stopped = _watched(runtime, failing)
        with _recording() as made, pytest.raises(Boom, match=name):
            async with runtime.running():
                pytest.fail("the runtime ran without a component")
        assert started == names[:failing]
        assert stopped == list(reversed(started)), (name, stopped)
        assert await _left_running(made) == [], f"left running after {name!r} failed to start"
        assert runtime.ctx._pool is None  # closed, and forgotten
        if runtime.worker is not None:
            assert not runtime.worker.loops.running


async def test_every_component_starts_and_stops(settings: Settings) -> None:
    runtime = build_runtime(settings, serve=True)
    started, stopped = _watched(runtime, None)
    with _recording() as made:
        async with runtime.running():
            assert started == [c.name for c in runtime.components]
            assert runtime.worker is not None
            assert runtime.worker.loops.running
            assert runtime.monitoring is not None
            assert await _left_running(made)  # the loops run
    assert stopped == list(reversed(started))
    assert await _left_running(made) == []
