"""How an instance looks in JSON (DESIGN.md §3)."""

from __future__ import annotations

from typing import Any

from ..crypto import SecretBox
from ..db.instances import Instance
from ..engines import Credentials, get_engine


def instance_view(inst: Instance, box: SecretBox, health: dict[str, Any] | None = None) -> dict[str, Any]:
    """With `health` (the detail route): the latest monitoring sample and open alerts."""
    engine = get_engine(inst.engine)
    secrets = box.open(inst.secrets)
    credentials = Credentials.from_secrets(inst.username, secrets)
    # Checked when stored; a rule tightened since (a database once allowed) must not make
    # an old row unreadable, so the view takes the stored values as they are.
    settings = engine.settings_model.model_construct(**inst.settings)
    body = {
        "id": inst.id,
        "name": inst.name,
        "engine": inst.engine,
        "plan": inst.plan,
        "status": inst.status,
        "owner": inst.owner,
        "settings": inst.settings,
        "memory_mb": inst.memory_mb,
        "placement": {
            "host": inst.host,
            "address": inst.address,
            "port": inst.port,
            "host_state": inst.host_state,
            "host_in_inventory": inst.host_in_inventory,
        },
        # A running instance on a host that does not answer cannot be reached either.
        "reachable": inst.status == "running" and inst.host_state == "up",
        # The admin password stays with dbvend: only the user's own credentials go out.
        "connection": engine.connection(settings, credentials, inst.address, inst.port),
        "facts": inst.facts,
        "backup_policy": inst.backup_policy or None,
        "created_at": inst.created_at.isoformat(),
        "updated_at": inst.updated_at.isoformat(),
        "error": inst.error,
    }
    if health is not None:
        body["health"] = health
    return body
