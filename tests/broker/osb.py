"""A platform's side of the Open Service Broker API, against the session's service."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

from service.plans.catalog import load_catalog
from tests.helpers import BROKER_PASSWORD, BROKER_USERNAME, Api

CATALOG = load_catalog()
VERSION = {"X-Broker-API-Version": "2.17"}


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


BROKER_AUTH = basic(BROKER_USERNAME, BROKER_PASSWORD)


def identity(user_id: str) -> str:
    encoded = base64.b64encode(json.dumps({"user_id": user_id}).encode()).decode()
    return f"cloudfoundry {encoded}"


def plan_ids(engine: str, plan: str) -> dict[str, str]:
    found = CATALOG.get(engine, plan)
    assert found is not None
    return {"service_id": CATALOG.services[engine].id, "plan_id": found.id}


def provision_body(engine: str, plan: str) -> dict[str, str]:
    """What every provision carries: the ids, and the platform's organization and space
    (REQUIRED by OSB 2.17)."""
    return {**plan_ids(engine, plan), "organization_guid": "org-1", "space_guid": "space-1"}


def new_id() -> str:
    return str(uuid.uuid4())


class Platform:
    def __init__(self, service: Api) -> None:
        self.client = service.client

    async def call(
        self,
        method: str,
        path: str,
        *,
        auth: str | None = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> tuple[int, Any]:
        sent = {**VERSION, "Authorization": auth or BROKER_AUTH, **(headers or {})}
        async with self.client.request(method, "/v2" + path, headers=sent, **kw) as resp:
            text = await resp.text()
            return resp.status, json.loads(text) if text else None

    async def poll(self, path: str, operation: str, seconds: float = 180) -> dict[str, Any]:
        """last_operation until it is no longer in progress."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            status, body = await self.call("GET", f"{path}/last_operation", params={"operation": operation})
            assert status == 200, body
            if body["state"] != "in progress" or loop.time() > deadline:
                return dict(body)
            await asyncio.sleep(0.5)
