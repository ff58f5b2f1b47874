"""Row ids: a prefix that says what the row is (i- instance, op- operation, b- backup, cr-
credential) and random lower-case letters and digits."""

from __future__ import annotations

import secrets
import string

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_id(prefix: str, length: int = 8) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))
