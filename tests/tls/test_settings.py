"""DBVEND_TLS_*: every refusal names its setting; good values are taken."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from service.tls import TlsError, TlsSettings, load_tls_settings
from tests.tls.material import NOW, ec_key, pem_cert, pem_key, self_signed, write


def _load(env: dict[str, str], *, production: bool = True) -> TlsSettings:
    return load_tls_settings(env, now=NOW, production=production)


def _refused(env: dict[str, str], *, production: bool = True) -> str:
    with pytest.raises(TlsError) as caught:
        _load(env, production=production)
    return str(caught.value)


def test_defaults() -> None:
    settings = _load({})
    assert settings.default == {"mysql": "required", "redis": "required"}
    assert settings.cert_days == 90
    assert settings.ca is None
    assert settings.api_cert is None
    assert settings.api_key is None
    assert settings == TlsSettings()


@pytest.mark.parametrize(
    ("raw", "mysql", "redis"),
    [
        ("off", "off", "off"),
        ("REQUIRED", "required", "required"),
        ("mysql:optional", "optional", "required"),
        ("mysql:optional, redis:off", "optional", "off"),
        ("redis:off,mysql:off", "off", "off"),
    ],
)
def test_the_default_mode_per_engine(raw: str, mysql: str, redis: str) -> None:
    settings = _load({"DBVEND_TLS_DEFAULT": raw})
    assert (settings.default_for("mysql"), settings.default_for("redis")) == (mysql, redis)


@pytest.mark.parametrize(
    "raw", ["optional", "on", "yes", "redis:optional", "postgres:off", "mysql:maybe", "mysql"]
)
def test_a_bad_default_mode_is_refused(raw: str) -> None:
    message = _refused({"DBVEND_TLS_DEFAULT": raw})
    assert message.startswith("DBVEND_TLS_DEFAULT")


def test_optional_alone_says_why() -> None:
    assert "Redis has no optional TLS" in _refused({"DBVEND_TLS_DEFAULT": "optional"})


@pytest.mark.parametrize("raw", ["0", "826", "ninety", "9.5", "-1"])
def test_bad_certificate_days_are_refused(raw: str) -> None:
    assert _refused({"DBVEND_TLS_CERT_DAYS": raw}).startswith("DBVEND_TLS_CERT_DAYS must be")


def test_certificate_days() -> None:
    assert _load({"DBVEND_TLS_CERT_DAYS": "30"}).cert_days == 30


def _ca_files(tmp: Path, **kwargs: object) -> tuple[Path, Path]:
    key = ec_key()
    cert = write(tmp / "ca.pem", pem_cert(self_signed(key, **kwargs)), 0o644)  # type: ignore[arg-type]
    return cert, write(tmp / "ca.key", pem_key(key))


def test_an_operator_ca_is_loaded_from_files(tmp_path: Path) -> None:
    cert, key = _ca_files(tmp_path)
    settings = _load({"DBVEND_TLS_CA_CERT": str(cert), "DBVEND_TLS_CA_KEY": str(key)})
    assert settings.ca is not None
    assert settings.ca.certificate_pem.encode() == cert.read_bytes()
    assert "PRIVATE" not in repr(settings)


def test_operator_ca_refusals_name_the_setting(tmp_path: Path) -> None:
    cert, key = _ca_files(tmp_path)
    both = {"DBVEND_TLS_CA_CERT": str(cert), "DBVEND_TLS_CA_KEY": str(key)}
    assert _refused({"DBVEND_TLS_CA_CERT": str(cert)}).startswith("DBVEND_TLS_CA_KEY is needed too")
    assert _refused({"DBVEND_TLS_CA_KEY": str(key)}).startswith("DBVEND_TLS_CA_CERT is needed too")
    assert "absolute path" in _refused({**both, "DBVEND_TLS_CA_CERT": "ca.pem"})
    assert "cannot read" in _refused({**both, "DBVEND_TLS_CA_KEY": str(tmp_path / "missing.key")})
    assert "not a PEM file" in _refused({**both, "DBVEND_TLS_CA_CERT": str(tmp_path)})
    # PEM in the variable instead of a path: refused as no path (and the key is not echoed).
    pem = key.read_text()
    message = _refused({**both, "DBVEND_TLS_CA_KEY": pem})
    assert message.startswith("DBVEND_TLS_CA_KEY must be the absolute path")
    assert all(line not in message for line in pem.splitlines()[1:])

    junk = write(tmp_path / "junk.pem", b"not a certificate", 0o644)
    assert _refused({**both, "DBVEND_TLS_CA_CERT": str(junk)}).startswith(
        "DBVEND_TLS_CA_CERT is not a PEM certificate"
    )
    assert _refused({**both, "DBVEND_TLS_CA_KEY": str(write(tmp_path / "j.key", b"junk"))}).startswith(
        "DBVEND_TLS_CA_KEY is not a PEM private key"
    )
    other = write(tmp_path / "other.key", pem_key(ec_key()))
    assert _refused({**both, "DBVEND_TLS_CA_KEY": str(other)}).startswith(
        "DBVEND_TLS_CA_KEY does not match the certificate"
    )
    expired_dir = tmp_path / "expired"
    expired_dir.mkdir()
    ecert, ekey = _ca_files(expired_dir, start=NOW - timedelta(days=9), end=NOW - timedelta(seconds=1))
    assert _refused({"DBVEND_TLS_CA_CERT": str(ecert), "DBVEND_TLS_CA_KEY": str(ekey)}).startswith(
        "DBVEND_TLS_CA_CERT expired on"
    )
    leaf_dir = tmp_path / "leaf"
    leaf_dir.mkdir()
    lcert, lkey = _ca_files(leaf_dir, ca=False)
    assert _refused({"DBVEND_TLS_CA_CERT": str(lcert), "DBVEND_TLS_CA_KEY": str(lkey)}).startswith(
        "DBVEND_TLS_CA_CERT is not a CA"
    )
    # A CA that ends before a certificate of DBVEND_TLS_CERT_DAYS would.
    short_dir = tmp_path / "short"
    short_dir.mkdir()
    scert, skey = _ca_files(short_dir, end=NOW + timedelta(days=20))
    short = {"DBVEND_TLS_CA_CERT": str(scert), "DBVEND_TLS_CA_KEY": str(skey)}
    assert "rotate the CA first" in _refused(short)
    assert _load({**short, "DBVEND_TLS_CERT_DAYS": "10"}).ca is not None


def test_a_world_readable_key_is_refused_in_production(tmp_path: Path) -> None:
    cert, key = _ca_files(tmp_path)
    key.chmod(0o644)
    env = {"DBVEND_TLS_CA_CERT": str(cert), "DBVEND_TLS_CA_KEY": str(key)}
    assert "readable by every user (mode 0644)" in _refused(env)
    assert _load(env, production=False).ca is not None


def _api_files(tmp: Path, *, end_days: int = 30) -> tuple[Path, Path]:
    key = ec_key()
    leaf = self_signed(
        key, ca=False, cert_sign=None, end=NOW + timedelta(days=end_days), name="api.example.com"
    )
    return write(tmp / "api.pem", pem_cert(leaf), 0o644), write(tmp / "api.key", pem_key(key))


def test_the_api_certificate(tmp_path: Path) -> None:
    cert, key = _api_files(tmp_path)
    settings = _load({"DBVEND_TLS_CERT": str(cert), "DBVEND_TLS_KEY": str(key)})
    assert (settings.api_cert, settings.api_key) == (cert, key)
    assert _refused({"DBVEND_TLS_CERT": str(cert)}).startswith("DBVEND_TLS_KEY is needed too")
    other = write(tmp_path / "other.key", pem_key(ec_key()))
    assert _refused({"DBVEND_TLS_CERT": str(cert), "DBVEND_TLS_KEY": str(other)}).startswith(
        "DBVEND_TLS_KEY does not match"
    )
    assert _refused({"DBVEND_TLS_CERT": str(key), "DBVEND_TLS_KEY": str(key)}).startswith(
        "DBVEND_TLS_CERT is not a PEM certificate"
    )
    cert_as_key = write(tmp_path / "cert-as.key", cert.read_bytes())
    assert _refused({"DBVEND_TLS_CERT": str(cert), "DBVEND_TLS_KEY": str(cert_as_key)}).startswith(
        "DBVEND_TLS_KEY is not a PEM private key"
    )
    old_dir = tmp_path / "old"
    old_dir.mkdir()
    ocert, okey = _api_files(old_dir, end_days=-1)
    assert _refused({"DBVEND_TLS_CERT": str(ocert), "DBVEND_TLS_KEY": str(okey)}).startswith(
        "DBVEND_TLS_CERT expired on"
    )
