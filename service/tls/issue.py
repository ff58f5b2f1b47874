"""Certificates signed by the deployment's CA: one per instance (server), or per member of
a multi-member instance (member: server and client, for the traffic between members)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .authority import BACKDATE, Authority, fingerprint
from .errors import TlsError
from .keys import key_pem, new_key, signature_hash
from .names import Names

Purpose = Literal["server", "member"]
DEFAULT_DAYS = 90
# Shorter than this is refused: renewal at two thirds of a day would be every 16 hours.
MIN_DAYS = 1
MAX_DAYS = 825


@dataclass(frozen=True)
class Issued:
    certificate_pem: str
    key_pem: str = field(repr=False)
    serial: int
    fingerprint: bytes
    not_before: datetime
    not_after: datetime
    names: tuple[str, ...]
    purpose: Purpose
    authority_fingerprint: bytes

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "X")


def issue(
    authority: Authority,
    names: Names,
    *,
    now: datetime,
    days: int = DEFAULT_DAYS,
    purpose: Purpose = "server",
) -> Issued:
    """A new EC P-256 key (made here, on the controller: it travels only to its server,
    sealed in the store meanwhile) and its certificate: `days` long but never past the CA,
    CA:FALSE, digitalSignature, serverAuth (a member: also clientAuth), subjectAltName =
    `names`. Subject CN is the first id (informative: clients match the subjectAltName)."""
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise TlsError(f"a certificate lasts {MIN_DAYS} to {MAX_DAYS} days, not {days}")
    not_after = min(now + timedelta(days=days), authority.not_after)
    if not_after - now < timedelta(days=MIN_DAYS):
        raise TlsError(
            f"the CA expires on {authority.not_after:%Y-%m-%d %H:%M} UTC:"
            " too soon to sign with; rotate the CA"
        )
    key = new_key()
    usages = [ExtendedKeyUsageOID.SERVER_AUTH]
    if purpose == "member":
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dbvend"),
                    x509.NameAttribute(NameOID.COMMON_NAME, names.ids[0]),
                ]
            )
        )
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(names.general_names()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(authority.subject_key_id),
            critical=False,
        )
    )
    certificate = builder.sign(authority.key, signature_hash(authority.key))
    return Issued(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=key_pem(key),
        serial=certificate.serial_number,
        fingerprint=fingerprint(certificate),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        names=names.describe(),
        purpose=purpose,
        authority_fingerprint=authority.fingerprint,
    )
