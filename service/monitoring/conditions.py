"""The fixed set of rule conditions: what each one looks at, its parameters, and how it is
checked. Rules pick a condition by name and set its threshold and parameters; no rule
carries code of its own.

How each is checked is checks.py's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..db.samples import Sample
from ..engines import ENGINE_NAMES, ENGINES, FieldError
from ..engines.quantity import split_quantity


@dataclass(frozen=True)
class InstanceState:
    id: str
    engine: str
    host: str
    owner: str
    sample: Sample


@dataclass(frozen=True)
class Finding:
    """One series for which a rule's condition holds now."""

    labels: dict[str, str]  # what tells this series apart (instance_id, client, ...)
    value: float | None
    summary: str
    instance_id: str | None = None


def _engine_value(name: str) -> Callable[[Sample], float | None]:
    def read(sample: Sample) -> float | None:
        value = sample.engine.get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    return read


def _ratio(
    num: Callable[[Sample], float | None], den: Callable[[Sample], float | None]
) -> Callable[[Sample], float | None]:
    def read(sample: Sample) -> float | None:
        top, bottom = num(sample), den(sample)
        return top / bottom if top is not None and bottom else None

    return read


def _attr(name: str) -> Callable[[Sample], float | None]:
    def read(sample: Sample) -> float | None:
        value = getattr(sample, name)
        return float(value) if value is not None else None

    return read


# name -> (reader, what it is). Engine metrics come from the engines.
RATIOS: dict[str, tuple[Callable[[Sample], float | None], str]] = {
    **{
        name: (_ratio(_engine_value(num), _engine_value(den)), what)
        for engine in ENGINES.values()
        for name, (num, den, what) in engine.ratio_metrics.items()
    },
    "container_memory": (_ratio(_attr("memory_bytes"), _attr("memory_limit_bytes")), "memory used / limit"),
}
VALUES: dict[str, tuple[Callable[[Sample], float | None], str]] = {
    "cpu_percent": (_attr("cpu_percent"), "container CPU % (100 = one core)"),
    "memory_bytes": (_attr("memory_bytes"), "container memory used, bytes"),
    "connections": (_engine_value("connections"), "client connections"),
    **{
        f"{engine.name}_{counter}": (_engine_value(f"{counter}_delta"), what)
        for engine in ENGINES.values()
        for counter, what in engine.counter_metrics.items()
    },
    "disk_bytes": (_attr("disk_bytes"), "disk used by the instance's directory on its host, bytes"),
}


@dataclass(frozen=True)
class Param:
    kind: str  # "int", "choice"
    default: Any = None
    low: int = 1
    high: int = 86_400
    choices: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class Condition:
    name: str
    scope: str  # "instance" | "host" | "service"
    description: str
    threshold: str  # "none" | "required" | "optional"
    default_threshold: float | None = None
    # Allowed thresholds: low < t <= high for fractions, low <= t <= high otherwise.
    threshold_range: tuple[float, float] = (0.0, float("inf"))
    fraction: bool = False
    params: dict[str, Param] = field(default_factory=dict)


_ENGINE = Param("choice", choices=ENGINE_NAMES)
MIB = 1024 * 1024
GIB = 1024 * MIB
CONDITIONS: dict[str, Condition] = {
    c.name: c
    for c in (
        Condition(
            "instance_down",
            "instance",
            "the container is not running, or the engine does not answer its admin account",
            "none",
            params={"engine": _ENGINE},
        ),
        Condition(
            "instance_restarted",
            "instance",
            "the container restarted at least `threshold` times since the previous round",
            "optional",
            1,
            (1, 1_000_000),
            params={"engine": _ENGINE},
        ),
        Condition(
            "container_oom_killed",
            "instance",
            "the kernel killed the container for exceeding its memory limit",
            "none",
            params={"engine": _ENGINE},
        ),
        Condition(
            "ratio_above",
            "instance",
            "params.metric is above `threshold` (a fraction, 0.9 = 90 %)",
            "required",
            threshold_range=(0.0, 1.0),
            fraction=True,
            params={"metric": Param("choice", required=True, choices=tuple(RATIOS)), "engine": _ENGINE},
        ),
        Condition(
            "value_above",
            "instance",
            "params.metric is above `threshold`",
            "required",
            params={"metric": Param("choice", required=True, choices=tuple(VALUES)), "engine": _ENGINE},
        ),
        Condition(
            "host_data_root_free_below",
            "host",
            "the filesystem of a Docker host's data root has less than `threshold` (a fraction of"
            " its size, 0.1 = 10 %) free, or less than params.min_free_mb MiB when set",
            "required",
            threshold_range=(0.0, 1.0),
            fraction=True,
            params={"min_free_mb": Param("int", None, 1, 1_000_000_000)},
        ),
        Condition(
            "api_error_rate",
            "service",
            "more than `threshold` (a fraction) of API requests answered 5xx within params.window"
            " seconds, counting only when there were at least params.min_requests",
            "required",
            threshold_range=(0.0, 1.0),
            fraction=True,
            params={"window": Param("int", 300, 10), "min_requests": Param("int", 20, 1, 10_000_000)},
        ),
        Condition(
            "auth_failure_burst",
            "service",
            "at least `threshold` failed authentications from one client address"
            " within params.window seconds",
            "required",
            threshold_range=(1, 1_000_000),
            params={"window": Param("int", 60, 1)},
        ),
        Condition(
            "provisioning_failing",
            "service",
            "at least `threshold` operations on one instance failed for good within params.window seconds",
            "optional",
            1,
            (1, 1_000_000),
            params={"window": Param("int", 900, 10)},
        ),
        Condition(
            "pool_empty",
            "service",
            "a warm pool the inventory configures (host, engine, size class) has no ready slot"
            " (creates take the cold path); hosts that are down or draining are not refilled",
            "none",
        ),
        Condition(
            "backup_failing",
            "service",
            "the newest finished scheduled backup of an instance failed (clear once a later"
            " scheduled backup completes)",
            "none",
        ),
    )
}


_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}


def parse_duration(value: object) -> int:
    """Seconds from 30, "30s", "1m", "1h" or "1d"."""
    seconds = _seconds(value)
    if seconds is None:
        raise ValueError("must be seconds or a duration such as '30s', '5m', '1h'")
    if not 0 <= seconds <= 30 * 86400:  # NaN fails this too
        raise ValueError("must be between 0 and 30 days")
    return round(seconds)


def _seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(max(-1, min(value, 10**12)))  # float() of a huge int overflows
    if isinstance(value, float):
        return value
    parts = split_quantity(value, decimals=True) if isinstance(value, str) else None
    if parts is None or parts[1] not in _UNIT_SECONDS:
        return None
    return float(parts[0]) * _UNIT_SECONDS[parts[1]]


def validate(
    kind: str, threshold: float | None, params: dict[str, Any]
) -> tuple[float | None, dict[str, Any], list[FieldError]]:
    """The threshold and params a rule of this condition stores, with defaults filled, or
    the errors, each naming its field."""
    condition = CONDITIONS.get(kind)
    if condition is None:
        return None, {}, [FieldError("condition", f"must be one of: {', '.join(CONDITIONS)}")]
    errors: list[FieldError] = []
    if condition.threshold == "none":
        if threshold is not None:
            errors.append(FieldError("threshold", f"{kind} takes no threshold"))
    elif threshold is None:
        if condition.threshold == "required":
            errors.append(FieldError("threshold", f"{kind} needs a threshold"))
        threshold = condition.default_threshold
    else:
        low, high = condition.threshold_range
        if condition.fraction and not low < threshold <= high:
            errors.append(FieldError("threshold", f"must be a fraction above {low:g} and at most {high:g}"))
        elif not condition.fraction and not low <= threshold <= high:
            errors.append(FieldError("threshold", f"must be from {low:g} to {high:g}"))
    clean: dict[str, Any] = {}
    for name in params:
        if name not in condition.params:
            allowed = ", ".join(condition.params) or "none"
            errors.append(FieldError(f"params.{name}", f"unknown parameter (allowed: {allowed})"))
    for name, spec in condition.params.items():
        value = params.get(name, spec.default)
        if value is None:
            if spec.required:
                errors.append(FieldError(f"params.{name}", f"is required ({', '.join(spec.choices)})"))
            continue
        if spec.kind == "choice" and value not in spec.choices:
            errors.append(FieldError(f"params.{name}", f"must be one of: {', '.join(spec.choices)}"))
        elif spec.kind == "int" and (
            isinstance(value, bool) or not isinstance(value, int) or not spec.low <= value <= spec.high
        ):
            errors.append(FieldError(f"params.{name}", f"must be an integer from {spec.low} to {spec.high}"))
        else:
            clean[name] = value
    return threshold, clean, errors
