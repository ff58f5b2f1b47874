"""Request bodies: the base every request model takes (unknown keys refused) and parse(),
which validates a decoded body through a model (422 naming each field). The models
themselves live with their domains; their JSON Schemas feed the OpenAPI document."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..engines.base import pydantic_errors
from ..errors import Invalid

# pydantic runs `pattern` on Rust's regex engine: linear time, and `$` there is the end of
# the text (a trailing newline does not match, unlike Python's re). Do not use patterns of
# request models with re.


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise Invalid(pydantic_errors(exc, "")) from None
