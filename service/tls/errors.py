"""The one error of service/tls."""

from __future__ import annotations


class TlsError(ValueError):
    """A certificate, key, name or setting dbvend refuses. The message says why and never
    holds key material; callers add the setting or field it came from."""
