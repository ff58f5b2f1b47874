"""Plans: named, fixed sizes per engine (plans.yml). A plan gives the settings an instance is
deployed with and the few a user may still choose, within bounds; the REST API and the service
broker resolve a request through the same Plan.resolve()."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from ..engines import ENGINES, Engine, FieldError, SettingsError

DEFAULT_PLANS = Path(__file__).with_name("plans.yml")
_BOUNDS = frozenset({"minimum", "maximum"})
# Plan and engine names appear in URLs and broker catalogs: short, lowercase, no surprises.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


class PlanError(ValueError):
    """plans.yml cannot be used; the message names the plan and the key."""


@dataclass(frozen=True)
class Plan:
    id: str
    engine: str
    name: str
    description: str
    # The settings the plan deploys with, as written in plans.yml (before the engine's parsing).
    settings: Mapping[str, Any]
    # Settings a user may still set -> bounds ({"minimum": .., "maximum": ..}, possibly empty).
    settable: Mapping[str, Mapping[str, int]]
    # The container memory the plan's settings give (what placement and quotas count).
    memory_mb: int
    # From plans.yml; an admin's run-time switch is stored apart (the API combines them).
    available: bool = True

    def resolve(
        self,
        raw: Mapping[str, Any] | None,
        *,
        instance_name: str,
        defaults: Mapping[str, Any] | None = None,
    ) -> BaseModel:
        """The complete settings of an instance created on this plan with the user's `raw`
        settings: the deployment's defaults (`tls`: DBVEND_TLS_DEFAULT) under the plan's own,
        overridden by settable keys only, then the engine's validation, then the plan's
        bounds. SettingsError names each refused field."""
        engine = ENGINES[self.engine]
        raw = dict(raw or {})
        self.refuse_unsettable(raw)
        merged = {**(defaults or {}), **self.settings, **raw}
        settings: BaseModel = engine.parse_settings(merged, instance_name=instance_name)
        self.check_bounds(settings)
        return settings

    def refuse_unsettable(self, raw: Mapping[str, Any]) -> None:
        """SettingsError naming each key of `raw` the plan does not let a user set."""
        refused = [
            FieldError(f"settings.{key}", f"cannot be set on plan {self.name!r}; it sets this itself")
            for key in raw
            if key not in self.settable
        ]
        if refused:
            raise SettingsError(refused)

    def check_bounds(self, settings: BaseModel) -> None:
        """SettingsError for a settable value outside the plan's bounds, and for any setting the
        plan fixes that differs from the plan's (a day-2 change within a plan goes through it)."""
        engine = ENGINES[self.engine]
        fixed = engine.parse_settings(dict(self.settings), instance_name="plan")
        errors = []
        on_plan = f"on plan {self.name!r}"
        for name in type(settings).model_fields:
            value = getattr(settings, name)
            if name not in self.settable:
                if name in self.settings and value != getattr(fixed, name):
                    errors.append(FieldError(f"settings.{name}", f"is fixed by plan {self.name!r}"))
                continue
            bounds = self.settable[name]
            if "minimum" in bounds and value < bounds["minimum"]:
                errors.append(
                    FieldError(f"settings.{name}", f"must be at least {bounds['minimum']} {on_plan}")
                )
            if "maximum" in bounds and value > bounds["maximum"]:
                errors.append(
                    FieldError(f"settings.{name}", f"must be at most {bounds['maximum']} {on_plan}")
                )
        if errors:
            raise SettingsError(errors)

    def parameters_schema(self) -> dict[str, Any]:
        """JSON Schema of the settings a user may still send with this plan: the engine's own
        schema of each settable field, narrowed by the plan's bounds; nothing else allowed."""
        engine = ENGINES[self.engine]
        full = engine.settings_model.model_json_schema()
        own = engine.settings_model.model_validate(dict(self.settings)).model_dump(mode="json")
        properties: dict[str, Any] = {}
        for name, bounds in self.settable.items():
            prop = copy.deepcopy(full["properties"][name])
            prop.update(bounds)
            if name in self.settings:
                prop["default"] = own[name]  # the plan's value, not the engine's
            properties[name] = prop
        schema: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if "$defs" in full:
            schema["$defs"] = copy.deepcopy(full["$defs"])
        return schema


def create_settings(
    engine: Engine[Any],
    plan: Plan | None,
    raw: Mapping[str, Any] | None,
    *,
    instance_name: str,
    defaults: Mapping[str, Any] | None = None,
) -> BaseModel:
    """A create's complete settings: the plan's resolution, or the engine's own parsing for a
    create without a plan (custom settings). `defaults`: the deployment's, under what the
    request (or the plan) says (`tls` from DBVEND_TLS_DEFAULT)."""
    if plan is None:
        merged = {**(defaults or {}), **(raw or {})}
        settings: BaseModel = engine.parse_settings(merged, instance_name=instance_name)
        return settings
    return plan.resolve(raw, instance_name=instance_name, defaults=defaults)


@dataclass(frozen=True)
class ServiceOffering:
    """An engine as the broker's catalog shows it: a stable id and a description."""

    id: str
    engine: str
    description: str


@dataclass(frozen=True)
class PlanCatalog:
    services: Mapping[str, ServiceOffering]
    plans: tuple[Plan, ...]
    _by_name: Mapping[tuple[str, str], Plan] = field(default_factory=dict, repr=False)
    _by_id: Mapping[str, Plan] = field(default_factory=dict, repr=False)

    def get(self, engine: str, name: str) -> Plan | None:
        return self._by_name.get((engine, name))

    def by_id(self, plan_id: str) -> Plan | None:
        return self._by_id.get(plan_id)

    def for_engine(self, engine: str) -> tuple[Plan, ...]:
        return tuple(plan for plan in self.plans if plan.engine == engine)

    def plan_of(self, engine: str, name: str) -> Plan:
        """The plan, or SettingsError naming the `plan` field."""
        plan = self.get(engine, name)
        if plan is None:
            names = ", ".join(p.name for p in self.for_engine(engine)) or "none"
            raise SettingsError([FieldError("plan", f"unknown {engine} plan; the plans are: {names}")])
        return plan


def load_catalog(path: Path = DEFAULT_PLANS) -> PlanCatalog:
    """Read and check plans.yml: every plan's settings must pass its engine's validation and
    its bounds; ids must be UUIDs, unique across services and plans. Raise PlanError."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PlanError(f"{path}: cannot be read: {exc}") from None
    engines = _mapping(_mapping(doc, "the document", str(path)).get("engines"), "engines", str(path))
    services: dict[str, ServiceOffering] = {}
    plans: list[Plan] = []
    for engine_name, entry in engines.items():
        if engine_name not in ENGINES:
            raise PlanError(f"engines.{engine_name}: unknown engine; dbvend has {', '.join(ENGINES)}")
        where = f"engines.{engine_name}"
        entry = _mapping(entry, where, str(path))
        services[engine_name] = ServiceOffering(
            _uuid(entry.get("id"), f"{where}.id"), engine_name, _text(entry.get("description"), where)
        )
        for plan_name, spec in _mapping(entry.get("plans"), f"{where}.plans", str(path)).items():
            plans.append(_plan(ENGINES[engine_name], str(plan_name), spec, f"{where}.plans.{plan_name}"))
    ids = [s.id for s in services.values()] + [p.id for p in plans]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PlanError(f"{path}: ids used twice: {', '.join(duplicates)}")
    return PlanCatalog(
        services=services,
        plans=tuple(plans),
        _by_name={(p.engine, p.name): p for p in plans},
        _by_id={p.id: p for p in plans},
    )


def _plan(engine: Engine[Any], name: str, spec: object, where: str) -> Plan:
    if not name or not set(name) <= _NAME_CHARS or len(name) > 32:
        raise PlanError(f"{where}: a plan name is 1-32 of a-z, 0-9 and '-'")
    spec = _mapping(spec, where, where)
    unknown = set(spec) - {"id", "description", "available", "settings", "settable"}
    if unknown:
        raise PlanError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    settings = dict(_mapping(spec.get("settings", {}), f"{where}.settings", where))
    fields = engine.settings_model.model_fields
    settable: dict[str, dict[str, int]] = {}
    for key, bounds in _mapping(spec.get("settable", {}), f"{where}.settable", where).items():
        if key not in fields:
            raise PlanError(f"{where}.settable.{key}: the {engine.name} engine has no such setting")
        bounds = dict(_mapping(bounds or {}, f"{where}.settable.{key}", where))
        if set(bounds) - _BOUNDS or not all(type(v) is int for v in bounds.values()):
            raise PlanError(f"{where}.settable.{key}: bounds are integer minimum/maximum only")
        settable[key] = bounds
    available = spec.get("available", True)
    if not isinstance(available, bool):
        raise PlanError(f"{where}.available: must be true or false")
    try:
        parsed = engine.parse_settings(settings, instance_name="plan")
    except SettingsError as exc:
        raise PlanError(f"{where}.settings: {exc}") from None
    plan = Plan(
        id=_uuid(spec.get("id"), f"{where}.id"),
        engine=engine.name,
        name=name,
        description=_text(spec.get("description"), where),
        settings=settings,
        settable=settable,
        memory_mb=engine.memory_mb(parsed),
        available=available,
    )
    try:
        plan.check_bounds(parsed)
    except SettingsError as exc:
        raise PlanError(f"{where}: its own settings break its bounds: {exc}") from None
    return plan


def _mapping(value: object, where: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PlanError(f"{path}: {where} must be a mapping")
    return {str(k): v for k, v in value.items()}


def _uuid(value: object, where: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise PlanError(f"{where}: must be a UUID") from None


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PlanError(f"{where}.description: must be a non-empty text")
    return value.strip()
