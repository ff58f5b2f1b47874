"""The CA bundle: what clients verify against (GET /api/v1/tls/ca.pem, the broker's
credentials.tls_ca) and what every server gets as its CA file (tls_ca_pem). Outside a
rotation it is the one active CA; during one, the new CA first and then the retiring one,
so clients holding either verify every server whichever CA signed its certificate."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives import serialization

from .authority import fingerprint, load_certificate


def bundle(certificates_pem: Iterable[str]) -> str:
    """Each CA once (by SHA-256 fingerprint), in the order given, normalised PEM."""
    seen: set[bytes] = set()
    parts: list[str] = []
    for pem in certificates_pem:
        certificate = load_certificate(pem.encode())
        print_ = fingerprint(certificate)
        if print_ in seen:
            continue
        seen.add(print_)
        parts.append(certificate.public_bytes(serialization.Encoding.PEM).decode())
    return "".join(parts)
