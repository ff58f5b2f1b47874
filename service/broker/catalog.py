"""GET /v2/catalog: one service per engine, its open plans, and their parameter schemas, made
from the same plans and pydantic settings models /api/v1 validates with."""

from __future__ import annotations

from typing import Any

from ..plans.service import Plan, PlanCatalog

# What a binding takes: nothing (its credentials are made by dbvend, not chosen by the caller).
BINDING_PARAMETERS: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {},
    "additionalProperties": False,
}


def _schema(plan: Plan) -> dict[str, Any]:
    return {"$schema": "http://json-schema.org/draft-04/schema#", **plan.parameters_schema()}


def plan_entry(plan: Plan) -> dict[str, Any]:
    schema = _schema(plan)
    return {
        "id": plan.id,
        "name": plan.name,
        "description": plan.description,
        "free": True,
        "bindable": True,
        "plan_updateable": True,
        "metadata": {"memory_mb": plan.memory_mb, "settable": sorted(plan.settable)},
        "schemas": {
            "service_instance": {"create": {"parameters": schema}, "update": {"parameters": schema}},
            "service_binding": {"create": {"parameters": BINDING_PARAMETERS}},
        },
    }


def catalog_document(plans: PlanCatalog, open_plans: set[tuple[str, str]]) -> dict[str, Any]:
    """Closed plans are left out: a platform then marks them inactive and keeps existing
    instances, the OSB way of retiring a plan."""
    services = []
    for engine, offering in plans.services.items():
        entries = [plan_entry(p) for p in plans.for_engine(engine) if (p.engine, p.name) in open_plans]
        services.append(
            {
                "id": offering.id,
                "name": engine,
                "description": offering.description,
                "bindable": True,
                "instances_retrievable": True,
                "bindings_retrievable": True,
                "plan_updateable": True,
                "allow_context_updates": False,
                "tags": [engine, "dbvend"],
                "metadata": {"displayName": f"dbvend {engine}"},
                "plans": entries,
            }
        )
    return {"services": services}
