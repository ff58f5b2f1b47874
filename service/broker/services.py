"""The domain services the broker adapts to OSB, given by the runtime: instances (provision,
update, deprovision), credentials (bind, unbind), plans (the catalog) and accounts (the
broker's own). The broker's mapping of OSB ids to dbvend's is its own (db/broker.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from ..accounts.service import AccountService
from ..context import Context
from ..credentials.service import CredentialService
from ..instances.service import InstanceService
from ..plans.service import PlanService

if TYPE_CHECKING:
    from ..db import Pool


@dataclass(frozen=True)
class Broker:
    ctx: Context
    instances: InstanceService
    credentials: CredentialService
    plans: PlanService
    accounts: AccountService

    @property
    def pool(self) -> Pool:
        return self.ctx.pool


SERVICES = web.AppKey("broker", Broker)


def broker(request: web.Request) -> Broker:
    return request.app[SERVICES]
