"""ssl contexts: dbvend as a client of its instances (verifying against the CA bundle and
the host's name, as users are told to), and the API's own HTTPS (DBVEND_TLS_CERT/KEY)."""

from __future__ import annotations

import functools
import ssl
from pathlib import Path


@functools.lru_cache(maxsize=16)
def client_context(ca_pem: str) -> ssl.SSLContext:
    """Certificate and host name checked (the name is the host connected to), TLS 1.2+.
    Shared per bundle: building one parses the bundle, and a probe round connects to every
    instance. Callers must not change it."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def server_context(certificate_file: Path, key_file: Path) -> ssl.SSLContext:
    """For aiohttp's web.TCPSite(ssl_context=...): TLS 1.2+, the certificate chain and key
    from the files the settings checked at start."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate_file, key_file)
    return context
