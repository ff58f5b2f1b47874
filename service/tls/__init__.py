"""TLS for dbvend's instances: the deployment's CA, a certificate per instance, renewal at
two thirds of a certificate's life, the CA bundle clients verify against (docs/tls.md).

Pure: `cryptography` and `ssl` only. The store (service/db/tls.py) keeps the CA and the
certificates, keys sealed; Ansible (roles/*, tls_* variables) puts them on the servers."""

from __future__ import annotations

from .authority import Authority, fingerprint, load_authority, load_certificate, make_authority
from .bundle import bundle
from .contexts import client_context, server_context
from .errors import TlsError
from .issue import DEFAULT_DAYS, Issued, Purpose, issue
from .names import Names, member_names, server_names
from .renewal import renew_at, renewal_due
from .settings import ENGINE_MODES, Mode, TlsSettings, load_tls_settings
from .verify import verify_server

__all__ = [
    "DEFAULT_DAYS",
    "ENGINE_MODES",
    "Authority",
    "Issued",
    "Mode",
    "Names",
    "Purpose",
    "TlsError",
    "TlsSettings",
    "bundle",
    "client_context",
    "fingerprint",
    "issue",
    "load_authority",
    "load_certificate",
    "load_tls_settings",
    "make_authority",
    "member_names",
    "renew_at",
    "renewal_due",
    "server_context",
    "server_names",
    "verify_server",
]
