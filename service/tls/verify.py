"""Checking a certificate as a client will, before it is shipped to a server: a certificate
that would not verify against the bundle for the host's address is never written (a
server serving it would fail every verifying client)."""

from __future__ import annotations

import ipaddress
from datetime import datetime

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from .authority import load_certificate
from .errors import TlsError


def verify_server(certificate_pem: str, bundle_pem: str, *, host: str, now: datetime) -> None:
    """The certificate chains to a CA of the bundle, is valid at `now`, is a server
    certificate and names `host` (an IP address or a DNS name); TlsError otherwise."""
    leaf = load_certificate(certificate_pem.encode())
    try:
        anchors = x509.load_pem_x509_certificates(bundle_pem.encode())
    except ValueError:
        raise TlsError("the CA bundle is not PEM certificates") from None
    try:
        subject: x509.IPAddress | x509.DNSName = x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        subject = x509.DNSName(host)
    verifier = PolicyBuilder().store(Store(anchors)).time(now).build_server_verifier(subject)
    try:
        verifier.verify(leaf, [])
    except VerificationError as exc:
        raise TlsError(f"the certificate does not verify for {host}: {exc}") from None
