"""Server and member certificates: what they hold, and that real verifiers (cryptography's,
`openssl verify`) take them for the right name and purpose only."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from service.tls import (
    TlsError,
    bundle,
    issue,
    load_authority,
    make_authority,
    member_names,
    server_names,
    verify_server,
)
from tests.tls.material import NOW, ec_key, pem_cert, pem_key, self_signed

CA = make_authority(NOW)
OPENSSL = shutil.which("openssl")


def _openssl_verify(tmp: Path, ca_pem: str, cert_pem: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert OPENSSL, "openssl is needed to check certificates as OpenSSL clients do"
    (tmp / "ca.pem").write_text(ca_pem)
    (tmp / "cert.pem").write_text(cert_pem)
    at = str(int(NOW.timestamp()))
    return subprocess.run(
        [OPENSSL, "verify", "-attime", at, "-CAfile", str(tmp / "ca.pem"), *args, str(tmp / "cert.pem")],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_server_certificate_names_the_address_and_the_instance_only() -> None:
    issued = issue(CA, server_names("192.0.2.10", "i-7f3k2q9x"), now=NOW)
    cert = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.0.2.10")]
    assert san.get_values_for_type(x509.DNSName) == ["i-7f3k2q9x"]
    assert issued.names == ("IP:192.0.2.10", "DNS:i-7f3k2q9x")
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert not constraints.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    # 90 days by default, a little backdated for hosts whose clock is behind.
    assert issued.not_after - NOW == timedelta(days=90)
    assert timedelta(0) < NOW - issued.not_before <= timedelta(minutes=5)
    assert issued.serial == cert.serial_number
    assert issued.serial > 0
    assert cert.issuer == CA.certificate.subject
    assert issued.authority_fingerprint == CA.fingerprint
    # The key: EC P-256, made here, the certificate's.
    key = serialization.load_pem_private_key(issued.key_pem.encode(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)
    assert key.public_key() == cert.public_key()
    assert issued.key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE" not in repr(issued)
    # Every certificate is new: its own key and serial.
    again = issue(CA, server_names("192.0.2.10", "i-7f3k2q9x"), now=NOW)
    assert again.serial != issued.serial
    assert again.key_pem != issued.key_pem


def test_it_verifies_for_its_names_and_no_other(tmp_path: Path) -> None:
    issued = issue(CA, server_names("192.0.2.10", "i-7f3k2q9x"), now=NOW)
    ca = bundle([CA.certificate_pem])
    for host in ("192.0.2.10", "i-7f3k2q9x"):
        verify_server(issued.certificate_pem, ca, host=host, now=NOW)
    for host in ("192.0.2.11", "i-other123", "localhost"):
        with pytest.raises(TlsError, match="does not verify"):
            verify_server(issued.certificate_pem, ca, host=host, now=NOW)
    # As OpenSSL clients (MariaDB's, redis-cli, PHP, ...) check it.
    ok = _openssl_verify(
        tmp_path, ca, issued.certificate_pem, "-purpose", "sslserver", "-verify_ip", "192.0.2.10"
    )
    assert ok.returncode == 0, ok.stderr
    wrong_ip = _openssl_verify(tmp_path, ca, issued.certificate_pem, "-verify_ip", "192.0.2.11")
    assert wrong_ip.returncode != 0
    assert "IP address mismatch" in wrong_ip.stderr + wrong_ip.stdout
    # A server certificate is no client certificate (members get one that is both).
    as_client = _openssl_verify(tmp_path, ca, issued.certificate_pem, "-purpose", "sslclient")
    assert as_client.returncode != 0


def test_another_ca_does_not_verify_it(tmp_path: Path) -> None:
    issued = issue(CA, server_names("192.0.2.10", "i-7f3k2q9x"), now=NOW)
    stranger = make_authority(NOW)
    with pytest.raises(TlsError, match="does not verify"):
        verify_server(issued.certificate_pem, stranger.certificate_pem, host="192.0.2.10", now=NOW)
    assert _openssl_verify(tmp_path, stranger.certificate_pem, issued.certificate_pem).returncode != 0
    # A CA under the same name but another key does not either.
    key = ec_key()
    lookalike = self_signed(key, name=CA.certificate.subject.rfc4514_string())
    fake = load_authority(pem_cert(lookalike), pem_key(key), NOW)
    with pytest.raises(TlsError):
        verify_server(issued.certificate_pem, fake.certificate_pem, host="192.0.2.10", now=NOW)


def test_validity_is_checked_and_capped_by_the_ca() -> None:
    issued = issue(CA, server_names("192.0.2.10", "i-7f3k2q9x"), now=NOW, days=30)
    with pytest.raises(TlsError, match="does not verify"):
        verify_server(
            issued.certificate_pem, CA.certificate_pem, host="192.0.2.10", now=NOW + timedelta(days=31)
        )
    with pytest.raises(TlsError, match="does not verify"):
        verify_server(
            issued.certificate_pem, CA.certificate_pem, host="192.0.2.10", now=NOW - timedelta(hours=1)
        )
    # A certificate never outlives its CA, and a CA about to expire signs nothing.
    key = ec_key()
    ending = load_authority(pem_cert(self_signed(key, end=NOW + timedelta(days=10))), pem_key(key), NOW)
    capped = issue(ending, server_names("192.0.2.10", "i-7f3k2q9x"), now=NOW, days=90)
    assert capped.not_after == ending.not_after
    with pytest.raises(TlsError, match="too soon to sign with"):
        issue(ending, server_names("192.0.2.10", "i-7f3k2q9x"), now=ending.not_after - timedelta(hours=1))
    for days in (0, 826, -5):
        with pytest.raises(TlsError, match="1 to 825 days"):
            issue(CA, server_names("192.0.2.10", "i-7f3k2q9x"), now=NOW, days=days)


def test_a_member_certificate_is_server_and_client(tmp_path: Path) -> None:
    issued = issue(
        CA, member_names("db1.example.com", "i-7f3k2q9x", "i-7f3k2q9x-m1"), now=NOW, purpose="member"
    )
    assert issued.names == ("DNS:db1.example.com", "DNS:i-7f3k2q9x-m1", "DNS:i-7f3k2q9x")
    cert = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    assert set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    }
    for purpose in ("sslserver", "sslclient"):
        run = _openssl_verify(tmp_path, CA.certificate_pem, issued.certificate_pem, "-purpose", purpose)
        assert run.returncode == 0, run.stderr
    verify_server(issued.certificate_pem, CA.certificate_pem, host="i-7f3k2q9x-m1", now=NOW)


@pytest.mark.parametrize(
    ("address", "san"),
    [
        ("127.0.0.1", "IP:127.0.0.1"),
        ("2001:db8::7", "IP:2001:db8::7"),
        ("[2001:db8::7]", "IP:2001:db8::7"),
        ("DB1.Example.COM.", "DNS:db1.example.com"),
        ("db-1", "DNS:db-1"),
    ],
)
def test_addresses_become_ip_or_dns_names(address: str, san: str) -> None:
    assert server_names(address, "i-7f3k2q9x").describe()[0] == san


@pytest.mark.parametrize(
    "address",
    [
        "",
        "*.example.com",
        "*",
        "db_1.example.com",
        "-db.example.com",
        "db-.example.com",
        "db..example.com",
        "exa mple.com",
        "bücher.example",
        "127.1",
        "10.1.2",
        "db.example.com\n",
        "a" * 64 + ".example.com",
        "a." * 127 + "com",
        "192.0.2.10/24",
    ],
)
def test_an_address_that_is_no_host_name_is_refused(address: str) -> None:
    with pytest.raises(TlsError):
        server_names(address, "i-7f3k2q9x")


@pytest.mark.parametrize(
    "instance_id", ["", "x", "I-UPPER", "i_under", "i-7f3k2q9x-", "-i", "i.7f", "i-7f\n", "*"]
)
def test_an_id_that_is_no_dns_label_is_refused(instance_id: str) -> None:
    with pytest.raises(TlsError, match="instance id"):
        server_names("192.0.2.10", instance_id)
