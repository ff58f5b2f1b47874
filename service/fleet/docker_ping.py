"""A host's Docker engine asked directly (GET /version over its local socket), for host
health: what health.yml tells for a host Ansible reaches locally (`ansible_connection:
local`, so "can Ansible reach it" is always yes) at a millisecond instead of an
ansible-playbook run. Other hosts (ssh, TLS, templated addresses) keep the playbook."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class EngineAnswer:
    ok: bool
    server_version: str | None = None
    error: str | None = None


def local_socket(variables: Mapping[str, Any]) -> str | None:
    """The Docker socket path when this host can be asked directly, else None."""
    if variables.get("ansible_connection") != "local":
        return None
    docker_host = variables.get("dbvend_docker_host", DEFAULT_SOCKET)
    if not isinstance(docker_host, str) or not docker_host.startswith("unix:///") or "{" in docker_host:
        return None
    return docker_host.removeprefix("unix://")


async def ask(socket_path: str, limit: float = 10.0) -> EngineAnswer:
    try:
        connector = aiohttp.UnixConnector(path=socket_path)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=limit)) as session,
            session.get("http://docker/version") as response,
        ):
            body = await response.content.read(MAX_ANSWER)
            if response.status != 200:
                return EngineAnswer(False, error=f"the Docker engine answered HTTP {response.status}")
            version = json.loads(body).get("Version")
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError, AttributeError) as exc:
        return EngineAnswer(
            False, error=f"the Docker engine at {socket_path} does not answer: {type(exc).__name__}"
        )
    if not isinstance(version, str):
        return EngineAnswer(False, error="the Docker engine did not say its version")
    return EngineAnswer(True, server_version=version[:100])
