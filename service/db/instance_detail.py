"""An instance's detail in one round trip: the live row, its newest sample and how many
alerts on it are open (the alerts themselves are read only when there are some)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .alerts import Alert, open_for_instance
from .instances import _SELECT, LIVE, Instance, _instance
from .samples import _COLUMNS, Sample

# Migration 0026: a change of what an instance's detail or a list shows (service/instances/view_cache.py).
VIEWS_CHANNEL = "dbvend_views"

_SAMPLE = ", ".join(f"s.{c} AS sample_{c}" for c in _COLUMNS)

if TYPE_CHECKING:
    from . import Executor


async def get_with_health(
    db: Executor, instance_id: str, *, owner_id: int | None = None
) -> tuple[Instance, Sample | None, list[Alert]] | None:
    row = await db.fetchrow(
        f"SELECT q.*, {_SAMPLE},"
        " (SELECT count(*) FROM alerts a WHERE a.instance_id = q.id AND a.status <> 'resolved')"
        " AS dbvend_open_alerts"
        f" FROM ({_SELECT} WHERE i.id = $1 AND i.{LIVE} AND ($2::bigint IS NULL OR i.owner_id = $2)) q"
        " LEFT JOIN LATERAL (SELECT * FROM samples WHERE instance_id = q.id ORDER BY at DESC LIMIT 1) s"
        " ON true",
        instance_id,
        owner_id,
    )
    if row is None:
        return None
    sample = None
    if row["sample_instance_id"] is not None:
        sample = Sample(**{c: row[f"sample_{c}"] for c in _COLUMNS})
    alerts = await open_for_instance(db, instance_id) if row["dbvend_open_alerts"] else []
    return _instance(row), sample, alerts
