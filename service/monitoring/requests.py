"""Request bodies and query strings of the monitoring routes: rules, acknowledgements,
webhooks, alert lists, an instance's samples."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, field_validator

from ..web.queries import Query, Text, Whole
from ..web.schemas import Body
from ..web.text import bad_param
from . import egress
from .conditions import CONDITIONS, parse_duration
from .egress import MAX_URL_LENGTH, EgressRefused

Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    Field(
        description="seconds, or a duration such as '30s', '5m', '1h'",
        json_schema_extra={"examples": [30, "1m"]},
    ),
]
Severity = Literal["info", "warning", "critical"]
RULE_NAME = r"^[A-Za-z][A-Za-z0-9_]{0,62}$"  # a pydantic (Rust regex) pattern: `$` is the end
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,62}")  # fullmatch only
MAX_LABELS = 20
MAX_PARAMS = 16
Key = Annotated[str, Field(max_length=64)]
# Labels the alerts set themselves.
RESERVED_LABELS = {"alertname", "severity", "instance_id", "engine", "host", "owner", "client", "fingerprint"}


def _labels(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels")
    for key, text in value.items():
        if not _LABEL_NAME.fullmatch(key):
            raise ValueError(f"label name {key!r} must match [a-zA-Z_][a-zA-Z0-9_]*")
        if key in RESERVED_LABELS:
            raise ValueError(f"label {key!r} is set by dbvend itself")
        if len(text) > 200:
            raise ValueError(f"label {key!r} is longer than 200 characters")
        if bad_param(text):  # labels end up in notifications and the Prometheus exposition
            raise ValueError(f"label {key!r} contains a control character")
    return value


class RuleFields(Body):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    condition: str | None = Field(default=None, max_length=64, description=f"one of: {', '.join(CONDITIONS)}")
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    params: dict[Key, Any] | None = Field(default=None, max_length=MAX_PARAMS)
    for_seconds: Duration | None = Field(default=None, alias="for")
    keep_firing_for: Duration | None = None
    severity: Severity | None = None
    labels: dict[Key, Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, max_length=MAX_LABELS
    )
    description: str | None = Field(default=None, max_length=1000)
    enabled: StrictBool | None = None

    _check_labels = field_validator("labels")(_labels)


class CreateRuleRequest(RuleFields):
    name: str = Field(max_length=63, pattern=RULE_NAME)
    condition: str = Field(max_length=64, description=f"one of: {', '.join(CONDITIONS)}")


class UpdateRuleRequest(RuleFields):
    """Only the fields sent change; `threshold: null` clears it."""


class AckRequest(Body):
    comment: str | None = Field(default=None, max_length=1000)


class CreateWebhookRequest(Body):
    url: str = Field(
        max_length=MAX_URL_LENGTH,
        description="http or https URL that receives Alertmanager v4 payloads (alerts) and instance "
        "events; its host must be public unless DBVEND_WEBHOOK_ALLOW allows its network",
    )
    send_resolved: StrictBool = True
    events: list[Literal["alerts", "instances"]] = Field(
        default=["alerts"],
        min_length=1,
        max_length=2,
        description="what it receives: alerts (Alertmanager v4 payloads), instances (instance.* events)"
        " or both",
    )

    @field_validator("events")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names each kind once")
        return sorted(value)

    @field_validator("url")
    @classmethod
    def _form(cls, value: str) -> str:
        # The form only; the handler resolves the host and checks its addresses.
        try:
            egress.parse(value)
        except EgressRefused as exc:
            raise ValueError(str(exc)) from None
        return value


class AlertListQuery(Query):
    instance_id: Text | None = Field(default=None, description="filter")
    status: Literal["pending", "firing", "acknowledged", "resolved"] | None = Field(
        default=None, description="filter"
    )
    rule: Text | None = Field(default=None, description="filter")
    limit: Whole = Field(default=100, ge=1, le=500, description="page size")


class MetricsQuery(Query):
    since: Whole = Field(default=3600, ge=1, le=30 * 86400, description="seconds back")
    limit: Whole = Field(default=240, ge=1, le=5000, description="at most this many samples, newest first")


# A metrics history's ranges: each is shown in at most HISTORY_POINTS buckets.
HISTORY_RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}
HISTORY_POINTS = 240


class MetricsHistoryQuery(Query):
    window: Literal["1h", "6h", "24h", "7d"] = Field(
        default="1h",
        alias="range",
        description=f"how far back: 1h, 6h, 24h or 7d, in at most {HISTORY_POINTS} points",
    )
