"""service/config.py takes the TLS settings: shipped defaults, and a bad one stops the
start as a ConfigError naming the setting (production refuses a world-readable key)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from service.config import ConfigError, Settings, load_settings
from tests.helpers import write_inventory
from tests.tls.material import ec_key, pem_cert, pem_key, self_signed, write

_TLS = ("DBVEND_TLS_DEFAULT", "DBVEND_TLS_CERT_DAYS", "DBVEND_TLS_CA_CERT", "DBVEND_TLS_CA_KEY")


def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("DBVEND_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DBVEND_INVENTORY", str(write_inventory(tmp_path / "inventory")))
    for key in (*_TLS, "DBVEND_TLS_CERT", "DBVEND_TLS_KEY", "DBVEND_ENV", "DBVEND_SECRET_KEY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings()


def test_shipped_tls_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path, monkeypatch)
    assert settings.tls.default == {"mysql": "required", "redis": "required"}
    assert settings.tls.cert_days == 90
    assert settings.tls.ca is None
    settings = _settings(
        tmp_path, monkeypatch, DBVEND_TLS_DEFAULT="mysql:optional", DBVEND_TLS_CERT_DAYS="30"
    )
    assert settings.tls.default_for("mysql") == "optional"
    assert settings.tls.cert_days == 30


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DBVEND_TLS_DEFAULT", "optional"),
        ("DBVEND_TLS_CERT_DAYS", "0"),
        ("DBVEND_TLS_CA_CERT", "/nowhere.pem"),
    ],
)
def test_a_bad_tls_setting_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=r"DBVEND_TLS_(DEFAULT|CERT_DAYS|CA_KEY)"):
        _settings(tmp_path, monkeypatch, **{name: value})


def test_production_refuses_a_key_others_can_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = ec_key()
    now = datetime.now(UTC)
    ca = self_signed(key, start=now - timedelta(days=1), end=now + timedelta(days=365))
    cert = write(tmp_path / "ca.pem", pem_cert(ca), 0o644)
    key_file = write(tmp_path / "ca.key", pem_key(key), 0o644)
    env = {"DBVEND_TLS_CA_CERT": str(cert), "DBVEND_TLS_CA_KEY": str(key_file)}
    assert _settings(tmp_path, monkeypatch, **env).tls.ca is not None  # development
    production = {**env, "DBVEND_ENV": "production", "DBVEND_SECRET_KEY": Fernet.generate_key().decode()}
    with pytest.raises(ConfigError, match=r"DBVEND_TLS_CA_KEY: .* readable by every user"):
        _settings(tmp_path, monkeypatch, **production)
    key_file.chmod(0o600)
    assert _settings(tmp_path, monkeypatch, **production).tls.ca is not None
