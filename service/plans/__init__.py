"""Named plans per engine (plans.yml), shared by the REST API and the service broker."""

from __future__ import annotations

from .catalog import (
    DEFAULT_PLANS,
    Plan,
    PlanCatalog,
    PlanError,
    ServiceOffering,
    create_settings,
    load_catalog,
)

__all__ = [
    "DEFAULT_PLANS",
    "Plan",
    "PlanCatalog",
    "PlanError",
    "ServiceOffering",
    "create_settings",
    "load_catalog",
]
