"""Query strings, declared as models: validated on the way in (422 naming the parameter) and
shown as parameters in the OpenAPI document. The shared pieces live here; each domain
declares its own routes' queries next to its other shapes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_BIGINT = 2**63 - 1

# No control characters (PostgreSQL refuses NUL) and a bound on length.
Text = Annotated[str, Field(max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$")]


def _ascii_digits(value: object) -> object:
    """int() would also read "١٢", "1_000", "+5" and " 12 ": a query integer is digits 0-9."""
    if isinstance(value, str):
        digits = value.removeprefix("-")
        if not (0 < len(digits) <= 19 and digits.isascii() and digits.isdigit()):
            raise ValueError("must be an integer")
    return value


Whole = Annotated[int, BeforeValidator(_ascii_digits)]


class Query(BaseModel):
    # Parameters a route does not know are ignored, as HTTP clients expect.
    model_config = ConfigDict(extra="ignore")


class WaitQuery(Query):
    wait: Whole = Field(default=0, ge=0, le=3600, description="seconds to wait for the operation to finish")
