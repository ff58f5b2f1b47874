"""The deployment's CA: the one dbvend makes, and every refusal of an operator's CA."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from service.tls import TlsError, issue, load_authority, make_authority, server_names, verify_server
from tests.tls.material import NOW, ec_key, pem_cert, pem_key, rsa_key, self_signed


def test_a_made_ca_is_a_ten_year_p256_ca_that_signs_servers_only() -> None:
    ca = make_authority(NOW)
    cert = ca.certificate
    assert isinstance(ca.key, ec.EllipticCurvePrivateKey)
    assert isinstance(ca.key.curve, ec.SECP256R1)
    assert cert.not_valid_before_utc <= NOW < cert.not_valid_after_utc
    assert timedelta(days=3650) <= cert.not_valid_after_utc - NOW <= timedelta(days=3653)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert (constraints.value.ca, constraints.value.path_length) == (True, 0)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign
    assert not usage.value.digital_signature
    assert cert.issuer == cert.subject
    # Two CAs made the same day are told apart by name (a bundle holds both in a rotation).
    assert make_authority(NOW).certificate.subject != cert.subject
    # The key is never part of its repr (a log line of the object shows no key).
    assert "PRIVATE" not in repr(ca)
    # It loads back as an operator's CA would (the store keeps the PEM pair).
    again = load_authority(ca.certificate_pem.encode(), ca.key_pem().encode(), NOW)
    assert again.fingerprint == ca.fingerprint


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()])
def test_an_operator_ec_ca_is_taken_and_signs(curve: ec.EllipticCurve) -> None:
    key = ec_key(curve)
    ca = load_authority(pem_cert(self_signed(key)), pem_key(key), NOW)
    issued = issue(ca, server_names("10.1.2.3", "i-abcdefgh"), now=NOW)
    verify_server(issued.certificate_pem, ca.certificate_pem, host="10.1.2.3", now=NOW)


def test_an_operator_rsa_ca_is_taken_and_signs() -> None:
    key = rsa_key(2048)
    ca = load_authority(pem_cert(self_signed(key)), pem_key(key), NOW)
    issued = issue(ca, server_names("db.example.com", "i-abcdefgh"), now=NOW)
    verify_server(issued.certificate_pem, ca.certificate_pem, host="db.example.com", now=NOW)


def _refusal(cert: bytes, key: bytes, *, min_days: int = 1) -> str:
    with pytest.raises(TlsError) as caught:
        load_authority(cert, key, NOW, min_days=min_days)
    return str(caught.value)


def test_operator_ca_refusals_say_which_file_and_why() -> None:
    key = ec_key()
    good_cert, good_key = pem_cert(self_signed(key)), pem_key(key)
    other = ec_key()

    assert _refusal(b"hello", good_key).startswith("certificate: is not a PEM certificate")
    der = self_signed(key).public_bytes(serialization.Encoding.DER)
    assert _refusal(der, good_key).startswith("certificate: is not a PEM certificate")
    assert _refusal(good_cert, b"nope").startswith("key: is not a PEM private key")
    assert _refusal(good_cert, good_cert).startswith("key: is not a PEM private key")
    assert "encrypted" in _refusal(good_cert, pem_key(key, b"secret"))
    assert _refusal(good_cert, pem_key(other)) == "key: does not match the certificate (another key pair)"
    two = good_cert + pem_cert(self_signed(other))
    assert "holds 2 certificates" in _refusal(two, good_key)
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert _refusal(broken, good_key).startswith("certificate: cannot be read")

    expired = self_signed(key, start=NOW - timedelta(days=400), end=NOW - timedelta(days=1))
    assert "expired on" in _refusal(pem_cert(expired), good_key)
    future = self_signed(key, start=NOW + timedelta(days=1))
    assert "not valid yet" in _refusal(pem_cert(future), good_key)
    short = self_signed(key, end=NOW + timedelta(days=30))
    assert "before a certificate issued now (90 days) would" in _refusal(
        pem_cert(short), good_key, min_days=90
    )
    assert load_authority(pem_cert(short), good_key, NOW, min_days=29).not_after == short.not_valid_after_utc

    leaf = self_signed(key, ca=False)
    assert "is not a CA (basicConstraints CA:FALSE)" in _refusal(pem_cert(leaf), good_key)
    bare = self_signed(key, ca=None)
    assert "is not a CA (no basicConstraints" in _refusal(pem_cert(bare), good_key)
    no_sign = self_signed(key, cert_sign=False)
    assert "keyCertSign" in _refusal(pem_cert(no_sign), good_key)
    # No key usage at all is an old but valid CA: taken.
    assert load_authority(pem_cert(self_signed(key, cert_sign=None)), good_key, NOW)


def test_operator_ca_key_kinds() -> None:
    weak = rsa_key(1024)
    assert "1024-bit RSA key" in _refusal(pem_cert(self_signed(weak)), pem_key(weak))
    small_curve = ec_key(ec.SECP256K1())
    assert "P-256 or P-384 only" in _refusal(pem_cert(self_signed(small_curve)), pem_key(small_curve))
    edwards = ed25519.Ed25519PrivateKey.generate()
    assert "EC (P-256, P-384) or RSA keys only" in _refusal(pem_cert(self_signed(edwards)), pem_key(edwards))


def test_no_refusal_quotes_the_key() -> None:
    key = ec_key()
    key_pem = pem_key(key)
    body = key_pem.split(b"\n")[1].decode()
    for cert in (b"junk", pem_cert(self_signed(ec_key()))):
        for bad_key in (key_pem, key_pem[:-40], pem_key(key, b"pw")):
            with pytest.raises(TlsError) as caught:
                load_authority(cert, bad_key, NOW)
            assert body[:16] not in str(caught.value)
