"""Which strings from a request can go further.

PostgreSQL refuses NUL bytes and text that is not UTF-8 (a lone surrogate, from a JSON
"\\ud800" escape or from undecodable bytes, cannot be encoded), and control characters in
an id or a filter make no sense anywhere. The edge middleware applies `bad_param` to every
query and path parameter; `read_json` applies `bad_json_string` to every string of a body."""

from __future__ import annotations

import re
from typing import Any

from ..engines.base import field_path
from ..errors import FieldError

MAX_JSON_DEPTH = 32

# One character class each: linear, nothing to backtrack. Ids and filters: no C0, DEL, C1
# or surrogates. JSON strings: tab, newline and carriage return are fine in a comment.
_BAD_PARAM = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_JSON = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


class TooDeep(ValueError):
    """The body nests deeper than MAX_JSON_DEPTH."""


def bad_param(text: str) -> bool:
    return _BAD_PARAM.search(text) is not None


def bad_json_string(body: Any) -> FieldError | None:
    """The first string (keys included) of a decoded body that cannot be stored, naming
    where it is; raises TooDeep past MAX_JSON_DEPTH levels."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(body, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_JSON_DEPTH:
            raise TooDeep(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, str):
            why = _why(value)
            if why:
                return FieldError(field_path(path), why)
        elif isinstance(value, dict):
            for key, item in value.items():
                why = _why(key)
                if why:
                    return FieldError(field_path((*path, key)), f"its name {why}")
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(value))
    return None


def _why(text: str) -> str | None:
    found = _BAD_JSON.search(text)
    if found is None:
        return None
    char = found.group()
    return "contains a NUL byte" if char == "\x00" else f"contains the control character U+{ord(char):04X}"
