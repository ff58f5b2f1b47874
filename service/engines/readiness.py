"""Waiting for a (re)started instance to serve its user: connect through the Docker host's
address with the application account, as the user will, until the server answers or time
runs out.

The service does this instead of the play's `docker exec` wait (a module run per instance
on the host), and it proves more: the published port and the host address work too."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .base import Engine
from .probe import EngineUnavailable

# A new Redis answers within milliseconds of starting: poll often (one connect each).
_POLL_SECONDS = 0.05
ATTEMPT_SECONDS = 5.0


class NotReady(Exception):
    """The server did not accept the application account in time (the reason is the last
    client error, which never holds the password)."""


async def wait_ready(
    engine: Engine[Any], conn: Mapping[str, Any], within: float, *, tls_ca: str | None = None
) -> str:
    """The server's version once the application account can connect and query; NotReady
    when it cannot within `within` seconds. tls_ca (the CA bundle): over TLS, verified."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await engine.server_version(conn, ATTEMPT_SECONDS, tls_ca=tls_ca)
        except EngineUnavailable as exc:
            reason = str(exc)
        if loop.time() >= deadline:
            raise NotReady(
                f"{engine.name} on {conn['host']}:{conn['port']} did not accept the application account"
                f" ({conn['username']}) within {within:.0f} s: {reason}"
            )
        await asyncio.sleep(_POLL_SECONDS)
