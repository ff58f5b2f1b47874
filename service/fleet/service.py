"""The fleet domain's entry point: (re)reading the inventory into the store and the process's
hosts, the fleet's overview, and an operator's drain."""

from __future__ import annotations

import logging
from typing import Any

from ..backupstore.remote import check_store_host
from ..config import ConfigError
from ..context import Context
from ..db import hosts as hosts_repo
from ..errors import Invalid, NotFound
from ..inventory import InventoryError, load_inventory

log = logging.getLogger(__name__)


class FleetService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def reload(self) -> None:
        """Read the inventory again and record its hosts; hosts dropped from it stay, flagged,
        so their instances remain visible. A broken inventory changes nothing (InventoryError,
        or ConfigError when the backup store host left it)."""
        settings = self.ctx.settings
        loaded = await load_inventory(settings.inventory)
        # An inventory without the backup store host would strand every backup kept there.
        check_store_host(settings.backup_host, {h.name: h for h in loaded}, settings.inventory)
        async with self.ctx.pool.acquire() as conn:
            await hosts_repo.sync(conn, loaded)
        self.ctx.replace_hosts({h.name: h for h in loaded})
        log.info("inventory %s: %d host(s): %s", settings.inventory, len(loaded), ", ".join(self.ctx.hosts))

    async def reload_for_admin(self) -> int:
        """An admin's reload: a broken inventory is a 422 invalid_inventory; failed cleanups
        are armed again. Returns how many."""
        try:
            await self.reload()
        except (InventoryError, ConfigError) as exc:
            raise Invalid(
                [], message=f"the inventory was not reloaded: {exc}", code="invalid_inventory"
            ) from None
        return await hosts_repo.retry_failed_cleanups(self.ctx.pool)

    async def overview(self) -> list[dict[str, Any]]:
        return await hosts_repo.overview(self.ctx.pool)

    async def set_draining(self, name: str, draining: bool) -> dict[str, Any]:
        """The host's overview row after the change; NotFound("host") for an unknown one."""
        if not await hosts_repo.set_draining(self.ctx.pool, name, draining):
            raise NotFound("host")
        return next(r for r in await self.overview() if r["name"] == name)
