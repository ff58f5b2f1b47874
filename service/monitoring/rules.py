"""An alert rule's columns from a request: the fields sent, checked together with what the
rule keeps (a condition from the fixed set, its threshold and params: conditions.py)."""

from __future__ import annotations

from typing import Any

from ..db.rules import Rule
from ..errors import FieldError, Invalid
from .conditions import validate
from .requests import RuleFields

# Fields a PATCH may leave out but may not clear (`threshold: null` does clear).
_NOT_NULL = (
    "condition",
    "for_seconds",
    "keep_firing_for",
    "severity",
    "enabled",
    "labels",
    "description",
    "params",
)
# body field -> column
_COLUMNS = {"for_seconds": "for_seconds", "keep_firing_for": "keep_firing_for_seconds"}


def rule_values(body: RuleFields, base: Rule | None) -> dict[str, Any]:
    """Columns to write: the fields sent, checked together with what the rule keeps."""
    sent = body.model_dump(exclude_unset=True)
    sent.pop("name", None)
    for key in _NOT_NULL:
        if key in sent and sent[key] is None:
            raise Invalid([FieldError("for" if key == "for_seconds" else key, "may not be null")])
    condition = sent.get("condition", base.condition if base else None)
    threshold = sent.get("threshold", base.threshold if base else None)
    params = sent.get("params", base.params if base else {})
    if base is not None and "condition" in sent and sent["condition"] != base.condition:
        # Another condition: the old threshold and params mean something else there.
        threshold = sent.get("threshold")
        params = sent.get("params", {})
    assert condition is not None
    threshold, params, errors = validate(condition, threshold, params or {})
    if errors:
        raise Invalid(errors)
    values = {_COLUMNS.get(k, k): v for k, v in sent.items()}
    values.update(condition=condition, threshold=threshold, params=params)
    return values
