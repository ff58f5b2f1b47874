"""Private keys: the kinds dbvend makes and accepts, as PEM, and the hash a key signs with."""

from __future__ import annotations

from typing import TypeAlias

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .errors import TlsError

SigningKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
# RSA below this is refused for an operator's CA (NIST SP 800-57: 112 bits of security).
MIN_RSA_BITS = 2048
_CURVES = (ec.SECP256R1, ec.SECP384R1)


def new_key() -> ec.EllipticCurvePrivateKey:
    """EC P-256: what dbvend makes for its CA and every server. Every TLS 1.2/1.3 client
    and both servers (OpenSSL 3) take it, and a key is made in microseconds, so an
    instance's key costs the create path nothing."""
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: SigningKey) -> str:
    """Unencrypted PKCS#8 ("BEGIN PRIVATE KEY"), what MariaDB and Redis read."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_key(pem: bytes) -> SigningKey:
    """A PEM private key dbvend can sign with; TlsError (without the key's bytes) otherwise."""
    if b"-----BEGIN" not in pem or b"PRIVATE KEY-----" not in pem:
        raise TlsError("is not a PEM private key (-----BEGIN PRIVATE KEY----- or EC/RSA PRIVATE KEY)")
    if b"ENCRYPTED" in pem:
        raise TlsError("is an encrypted private key: give it unencrypted, in a file only dbvend can read")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise TlsError(f"cannot be read as a private key ({type(exc).__name__})") from None
    return check_key(key)


def check_key(key: object) -> SigningKey:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, _CURVES):
            raise TlsError(f"is an EC key on {key.curve.name}: P-256 or P-384 only")
        return key
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise TlsError(f"is a {key.key_size}-bit RSA key: at least {MIN_RSA_BITS} bits")
        return key
    raise TlsError(f"is a {type(key).__name__.lstrip('_')}: EC (P-256, P-384) or RSA keys only")


def signature_hash(key: SigningKey) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1):
        return hashes.SHA384()
    return hashes.SHA256()
