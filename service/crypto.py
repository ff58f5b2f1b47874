"""Hashing and encryption: user passwords (argon2), API tokens (SHA-256 of a random
token), instance secrets (Fernet, keys rotated by listing the new one first)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import OrderedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

_hasher = PasswordHasher()
TOKEN_PREFIX = "dbv_"  # noqa: S105 - a prefix that marks dbvend tokens, not a secret


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A constant hash to verify against when the user does not exist, so a login for an
# unknown name costs the same time as one with a wrong password.
DUMMY_PASSWORD_HASH = _hasher.hash(secrets.token_urlsafe(16))


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    """Tokens carry 256 random bits, so a fast hash is enough and lookups stay cheap."""
    return hashlib.sha256(token.encode()).digest()


class SecretBox:
    """Encrypts small JSON documents (instance passwords) for storage in PostgreSQL.

    The documents opened lately are kept, by their ciphertext (a fresh IV each seal, so a
    new secret is a new entry): a list of 50 instances would otherwise spend a third of its
    time in AES and HMAC. This holds nothing the process could not decrypt at will, with
    the keys it holds for as long as it runs."""

    def __init__(self, keys: tuple[str, ...], *, remember: int = 4096) -> None:
        if not keys:
            raise ValueError("at least one key is required")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        self._remember = remember
        self._opened: OrderedDict[bytes, dict[str, str]] = OrderedDict()

    def seal(self, values: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(values).encode())

    def open(self, blob: bytes) -> dict[str, str]:
        key = bytes(blob)
        if (known := self._opened.get(key)) is not None:
            self._opened.move_to_end(key)
            return dict(known)  # a copy: callers may change theirs
        opened = self._decrypt(key)
        if self._remember > 0:
            self._opened[key] = opened
            while len(self._opened) > self._remember:
                self._opened.popitem(last=False)
        return dict(opened)

    def _decrypt(self, blob: bytes) -> dict[str, str]:
        try:
            data = json.loads(self._fernet.decrypt(bytes(blob)))
        except InvalidToken as exc:
            raise ValueError("instance secrets cannot be decrypted with the configured keys") from exc
        if not isinstance(data, dict):
            raise ValueError("instance secrets are malformed")
        return {str(k): str(v) for k, v in data.items()}
