"""The deployment's certificate authority: made by dbvend on first start, or the operator's
(DBVEND_TLS_CA_CERT / DBVEND_TLS_CA_KEY), checked before anything is signed with it."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from .errors import TlsError
from .keys import SigningKey, key_pem, load_key, new_key, signature_hash

CA_YEARS = 10
# Signing starts a little in the past: a host whose clock is behind still accepts it.
BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class Authority:
    certificate: x509.Certificate
    key: SigningKey = field(repr=False)

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def key_pem(self) -> str:
        """For sealing into the store only (service/db/tls.py)."""
        return key_pem(self.key)

    @property
    def fingerprint(self) -> bytes:
        return fingerprint(self.certificate)

    @property
    def not_before(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @property
    def subject_key_id(self) -> x509.SubjectKeyIdentifier:
        try:
            return self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        except x509.ExtensionNotFound:
            return x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())


def fingerprint(certificate: x509.Certificate) -> bytes:
    """SHA-256 of the DER encoding: what `openssl x509 -fingerprint -sha256` prints."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()


def make_authority(now: datetime, *, years: int = CA_YEARS) -> Authority:
    """A new CA: EC P-256, `years` long, CA:TRUE with pathlen 0 (it signs servers, never
    another CA), key usage keyCertSign and cRLSign only. The name carries the day it was
    made and a random tag, so the CAs of a rotation are told apart in a bundle."""
    key = new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dbvend"),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"dbvend CA {now.astimezone(UTC):%Y-%m-%d} {secrets.token_hex(3)}"
            ),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=365 * years + years // 4))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, signature_hash(key))
    )
    return Authority(certificate, key)


def load_certificate(pem: bytes) -> x509.Certificate:
    """Exactly one PEM certificate."""
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise TlsError("is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        found = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise TlsError(f"cannot be read as a PEM certificate ({type(exc).__name__})") from None
    if len(found) != 1:
        raise TlsError(
            f"holds {len(found)} certificates: exactly one, the CA that signs (its own chain,"
            " if any, is not served)"
        )
    return found[0]


def load_authority(
    certificate_pem: bytes, key_pem_bytes: bytes, now: datetime, *, min_days: int = 1
) -> Authority:
    """An operator's CA, refused (TlsError saying which file is wrong, as "certificate: ..."
    or "key: ...") unless: one PEM certificate and a matching unencrypted PEM key (EC P-256,
    P-384 or RSA >= 2048), a CA (basicConstraints CA:TRUE; keyCertSign when it has a key
    usage), valid now and for at least `min_days` more days (a certificate issued now must
    not outlive its CA)."""
    try:
        certificate = load_certificate(certificate_pem)
    except TlsError as exc:
        raise TlsError(f"certificate: {exc}") from None
    try:
        key = load_key(key_pem_bytes)
    except TlsError as exc:
        raise TlsError(f"key: {exc}") from None
    if certificate.public_key() != key.public_key():
        raise TlsError("key: does not match the certificate (another key pair)")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise TlsError("certificate: is not a CA (no basicConstraints CA:TRUE)") from None
    if not constraints.ca:
        raise TlsError("certificate: is not a CA (basicConstraints CA:FALSE)")
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        raise TlsError("certificate: has a key usage without keyCertSign (it may not sign certificates)")
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if now < start:
        raise TlsError(f"certificate: is not valid yet (from {start:%Y-%m-%d %H:%M} UTC)")
    if now >= end:
        raise TlsError(f"certificate: expired on {end:%Y-%m-%d %H:%M} UTC")
    if end - now < timedelta(days=min_days):
        raise TlsError(
            f"certificate: expires on {end:%Y-%m-%d %H:%M} UTC, before a certificate issued now"
            f" ({min_days} days) would: rotate the CA first"
        )
    return Authority(certificate, key)
