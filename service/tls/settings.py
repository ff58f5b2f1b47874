"""The TLS settings (DBVEND_TLS_*), read from the environment mapping config.py passes in
and checked at start: a refusal names the setting, so a bad CA or certificate stops the
start instead of failing the first create."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from cryptography import x509

from .authority import Authority, load_authority
from .errors import TlsError
from .issue import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS
from .keys import load_key

Mode = Literal["off", "optional", "required"]
# What each engine can do: Redis serves TLS or plain on its one port, never both.
ENGINE_MODES: Mapping[str, tuple[Mode, ...]] = {
    "mysql": ("off", "optional", "required"),
    "redis": ("off", "required"),
}
SHIPPED_DEFAULT: Mode = "required"
_MAX_FILE = 1 << 20


@dataclass(frozen=True)
class TlsSettings:
    # DBVEND_TLS_DEFAULT: the mode of new instances that do not ask for one, per engine.
    default: Mapping[str, Mode] = field(default_factory=lambda: dict.fromkeys(ENGINE_MODES, SHIPPED_DEFAULT))
    # DBVEND_TLS_CERT_DAYS: how long an instance's certificate lasts (renewed at 2/3).
    cert_days: int = DEFAULT_DAYS
    # DBVEND_TLS_CA_CERT + DBVEND_TLS_CA_KEY: the operator's CA, checked; None = dbvend's own.
    ca: Authority | None = field(default=None, repr=False)
    # DBVEND_TLS_CERT + DBVEND_TLS_KEY: the API over HTTPS (checked files; None = plain HTTP).
    api_cert: Path | None = None
    api_key: Path | None = None
    # DBVEND_TLS_RENEW_INTERVAL: seconds between the renewal job's rounds (due certificates,
    # a CA rotation's re-issues).
    renew_interval: float = 60.0

    def default_for(self, engine: str) -> Mode:
        return self.default[engine]


def load_tls_settings(env: Mapping[str, str], *, now: datetime, production: bool) -> TlsSettings:
    cert_days = _days(env.get("DBVEND_TLS_CERT_DAYS", ""))
    ca = _operator_ca(env, now, production, cert_days)
    api_cert, api_key = _api_files(env, now, production)
    return TlsSettings(
        _defaults(env.get("DBVEND_TLS_DEFAULT", "")),
        cert_days,
        ca,
        api_cert,
        api_key,
        _interval(env.get("DBVEND_TLS_RENEW_INTERVAL", "")),
    )


def _interval(raw: str) -> float:
    if not raw.strip():
        return 60.0
    try:
        seconds = float(raw)
    except ValueError:
        raise TlsError(f"DBVEND_TLS_RENEW_INTERVAL must be seconds, got {raw[:20]!r}") from None
    if not 0.2 <= seconds <= 86400:
        raise TlsError(f"DBVEND_TLS_RENEW_INTERVAL must be between 0.2 and 86400 seconds, got {raw[:20]}")
    return seconds


def _defaults(raw: str) -> dict[str, Mode]:
    """`off` or `required` for both engines, or per engine: `mysql:optional,redis:required`
    (an engine not named keeps the shipped `required`). `optional` alone is refused: Redis
    has no optional TLS, and guessing off or required for it would surprise someone."""
    chosen: dict[str, Mode] = dict.fromkeys(ENGINE_MODES, SHIPPED_DEFAULT)
    raw = raw.strip().lower()
    if not raw:
        return chosen
    if ":" not in raw:
        if raw not in ("off", "required"):
            raise TlsError(
                f"DBVEND_TLS_DEFAULT must be off, required, or per engine like"
                f" mysql:optional,redis:required; got {raw[:40]!r}"
                + (" (Redis has no optional TLS)" if raw == "optional" else "")
            )
        both: Mode = "off" if raw == "off" else "required"
        return dict.fromkeys(ENGINE_MODES, both)
    for part in raw.split(","):
        engine, _, mode = part.strip().partition(":")
        if engine not in ENGINE_MODES or mode not in ENGINE_MODES[engine]:
            allowed = "; ".join(f"{e}: {'|'.join(m)}" for e, m in ENGINE_MODES.items())
            raise TlsError(f"DBVEND_TLS_DEFAULT: {part.strip()[:40]!r} is not one of {allowed}")
        chosen[engine] = mode
    return chosen


def _days(raw: str) -> int:
    if not raw.strip():
        return DEFAULT_DAYS
    try:
        days = int(raw)
    except ValueError:
        raise TlsError(f"DBVEND_TLS_CERT_DAYS must be a number of days, got {raw[:20]!r}") from None
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise TlsError(f"DBVEND_TLS_CERT_DAYS must be between {MIN_DAYS} and {MAX_DAYS}, got {days}")
    return days


def _pair(env: Mapping[str, str], cert_name: str, key_name: str) -> tuple[Path, Path] | None:
    cert, key = env.get(cert_name, "").strip(), env.get(key_name, "").strip()
    if not cert and not key:
        return None
    if not (cert and key):
        missing = key_name if cert else cert_name
        raise TlsError(f"{missing} is needed too: {cert_name} and {key_name} go together")
    return Path(cert), Path(key)


def _read(name: str, path: Path, *, secret: bool, production: bool) -> bytes:
    """A file's bytes. Paths, not PEM in the variable: a key in the environment is copied
    into every child process's environment and anything that dumps it."""
    if "\x00" in str(path) or "\n" in str(path) or not path.is_absolute():
        # The value is not quoted: it may be PEM text (a key) put where a path belongs.
        raise TlsError(f"{name} must be the absolute path of a PEM file (not PEM text, not a relative path)")
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_FILE:
            raise TlsError(f"{name}: {path} is not a PEM file (a regular file under 1 MiB)")
        if secret and production and info.st_mode & stat.S_IROTH:
            raise TlsError(
                f"{name}: {path} is readable by every user"
                f" (mode {stat.S_IMODE(info.st_mode):04o}): chmod 600 it"
            )
        return path.read_bytes()
    except OSError as exc:
        raise TlsError(f"{name}: cannot read {path}: {os.strerror(exc.errno or 0)}") from None


def _operator_ca(env: Mapping[str, str], now: datetime, production: bool, cert_days: int) -> Authority | None:
    pair = _pair(env, "DBVEND_TLS_CA_CERT", "DBVEND_TLS_CA_KEY")
    if pair is None:
        return None
    cert = _read("DBVEND_TLS_CA_CERT", pair[0], secret=False, production=production)
    key = _read("DBVEND_TLS_CA_KEY", pair[1], secret=True, production=production)
    try:
        return load_authority(cert, key, now, min_days=cert_days)
    except TlsError as exc:
        which = "DBVEND_TLS_CA_KEY" if str(exc).startswith("key:") else "DBVEND_TLS_CA_CERT"
        raise TlsError(f"{which} {str(exc).partition(': ')[2]}") from None


def _api_files(env: Mapping[str, str], now: datetime, production: bool) -> tuple[Path | None, Path | None]:
    """The API's certificate (its chain may follow it in the file) and key: PEM, matching,
    valid now. Who signs it is the operator's business (a public CA, usually)."""
    pair = _pair(env, "DBVEND_TLS_CERT", "DBVEND_TLS_KEY")
    if pair is None:
        return None, None
    cert_pem = _read("DBVEND_TLS_CERT", pair[0], secret=False, production=production)
    key_pem = _read("DBVEND_TLS_KEY", pair[1], secret=True, production=production)
    if b"-----BEGIN CERTIFICATE-----" not in cert_pem:
        raise TlsError("DBVEND_TLS_CERT is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        leaf = x509.load_pem_x509_certificates(cert_pem)[0]
    except ValueError:
        raise TlsError("DBVEND_TLS_CERT cannot be read as PEM certificates") from None
    try:
        key = load_key(key_pem)
    except TlsError as exc:
        raise TlsError(f"DBVEND_TLS_KEY {exc}") from None
    if leaf.public_key() != key.public_key():
        raise TlsError("DBVEND_TLS_KEY does not match the certificate of DBVEND_TLS_CERT")
    if now < leaf.not_valid_before_utc:
        raise TlsError(
            f"DBVEND_TLS_CERT is not valid yet (from {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC)"
        )
    if now >= leaf.not_valid_after_utc:
        raise TlsError(f"DBVEND_TLS_CERT expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    return pair
