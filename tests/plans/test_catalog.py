"""plans.yml as shipped loads, and Plan.resolve applies the plan's settings and bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.engines import SettingsError
from service.plans.catalog import PlanError, load_catalog

CATALOG = load_catalog()


def test_shipped_catalog_has_three_plans_per_engine() -> None:
    for engine in ("redis", "mysql"):
        assert [p.name for p in CATALOG.for_engine(engine)] == ["small", "medium", "large"]
        sizes = [p.memory_mb for p in CATALOG.for_engine(engine)]
        assert sizes == sorted(sizes)
        assert len(set(sizes)) == 3
    small = CATALOG.plan_of("redis", "small")
    assert CATALOG.by_id(small.id) is small


def test_resolve_takes_the_plans_settings_and_settable_keys() -> None:
    plan = CATALOG.plan_of("redis", "medium")
    settings = plan.resolve({"maxmemory_policy": "allkeys-lru"}, instance_name="x")
    assert settings.maxmemory == 512 * 1024 * 1024  # type: ignore[attr-defined]
    assert settings.maxmemory_policy == "allkeys-lru"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"maxmemory": "1gb"}, "settings.maxmemory"),
        ({"maxclients": 1001}, "settings.maxclients"),
        ({"maxclients": "many"}, "settings.maxclients"),
        ({"nosuch": 1}, "settings.nosuch"),
    ],
)
def test_resolve_refuses_what_the_plan_does_not_allow(raw: dict[str, object], field: str) -> None:
    with pytest.raises(SettingsError) as info:
        CATALOG.plan_of("redis", "small").resolve(raw, instance_name="x")
    assert [e.field for e in info.value.errors] == [field]


def test_unknown_plan_names_the_field() -> None:
    with pytest.raises(SettingsError) as info:
        CATALOG.plan_of("mysql", "huge")
    assert info.value.errors[0].field == "plan"


def test_parameters_schema_is_narrowed_by_bounds() -> None:
    schema = CATALOG.plan_of("mysql", "small").parameters_schema()
    assert schema["additionalProperties"] is False
    assert schema["properties"]["max_connections"]["maximum"] == 100
    assert "memory_mb" not in schema["properties"]


def test_a_plan_breaking_its_own_bounds_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plans.yml"
    path.write_text(
        "engines:\n  redis:\n    id: 742f3333-f589-5b3f-a13a-ac188ef11a9a\n    description: r\n"
        "    plans:\n      tiny:\n        id: af355d77-c566-5621-a2ac-08a89c3a7f8d\n        description: t\n"
        "        settings: {maxclients: 50}\n        settable: {maxclients: {maximum: 10}}\n"
    )
    with pytest.raises(PlanError, match="bounds"):
        load_catalog(path)
