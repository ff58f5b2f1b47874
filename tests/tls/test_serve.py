"""`python -m service serve` as a real process: a bad operator CA (not PEM, a key that does not
match, expired) stops the start with a message naming the setting; with DBVEND_TLS_CERT and
DBVEND_TLS_KEY the API itself answers over HTTPS (verified against the CA that signed it)
and no longer over plain HTTP."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from service.tls import issue, make_authority, server_names
from tests.e2e.service_process import free_port
from tests.helpers import ROOT, create_database, drop_database, service_env, write_inventory
from tests.tls.material import ec_key, pem_cert, pem_key, self_signed, write

NOW = datetime.now(UTC)


@pytest.fixture
async def database() -> AsyncIterator[str]:
    url = await create_database()
    yield url
    await drop_database(url)


def env_for(url: str, tmp: Path, **extra: str) -> dict[str, str]:
    inventory = write_inventory(tmp / "inventory")
    return {
        **os.environ,
        **service_env(url, tmp / "state", inventory),
        "DBVEND_LISTEN": f"127.0.0.1:{free_port()}",
        **extra,
    }


def operator_ca(tmp: Path, *, start: datetime, end: datetime) -> tuple[Path, Path]:
    key = ec_key()
    cert = self_signed(key, start=start, end=end, ca=True)
    return write(tmp / "ca.pem", pem_cert(cert), 0o644), write(tmp / "ca.key", pem_key(key))


def refusals(tmp: Path) -> list[tuple[str, dict[str, str], str]]:
    good_cert, good_key = operator_ca(tmp, start=NOW - timedelta(days=1), end=NOW + timedelta(days=3650))
    expired = tmp / "expired"
    expired.mkdir()
    old_cert, old_key = operator_ca(expired, start=NOW - timedelta(days=30), end=NOW - timedelta(days=1))
    junk = write(tmp / "junk.pem", b"not a certificate\n", 0o644)
    other = write(tmp / "other.key", pem_key(ec_key()))
    return [
        (
            "not PEM",
            {"DBVEND_TLS_CA_CERT": str(junk), "DBVEND_TLS_CA_KEY": str(good_key)},
            "DBVEND_TLS_CA_CERT",
        ),
        (
            "another key",
            {"DBVEND_TLS_CA_CERT": str(good_cert), "DBVEND_TLS_CA_KEY": str(other)},
            "DBVEND_TLS_CA_KEY",
        ),
        (
            "expired",
            {"DBVEND_TLS_CA_CERT": str(old_cert), "DBVEND_TLS_CA_KEY": str(old_key)},
            "DBVEND_TLS_CA_CERT",
        ),
        ("unknown default", {"DBVEND_TLS_DEFAULT": "optional"}, "DBVEND_TLS_DEFAULT"),
    ]


async def test_a_bad_operator_ca_stops_the_start_naming_the_setting(tmp_path: Path) -> None:
    for what, extra, setting in refusals(tmp_path):
        # No database is reached: the settings are read (and refused) first.
        env = env_for("postgresql://nobody@127.0.0.1:1/none", tmp_path / what.replace(" ", "-"), **extra)
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "service", "serve"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode != 0, what
        assert setting in done.stderr, (what, done.stderr[-1000:])
        assert "Traceback" not in done.stderr, (what, done.stderr[-2000:])


async def test_the_api_over_https(database: str, tmp_path: Path) -> None:
    ca = make_authority(NOW)
    issued = issue(ca, server_names("127.0.0.1", "dbvend-api"), now=NOW)
    cert = write(tmp_path / "api.pem", issued.certificate_pem.encode(), 0o644)
    key = write(tmp_path / "api.key", issued.key_pem.encode())
    env = env_for(database, tmp_path, DBVEND_TLS_CERT=str(cert), DBVEND_TLS_KEY=str(key))
    base = f"https://{env['DBVEND_LISTEN']}/api/v1"
    context = ssl.create_default_context(cadata=ca.certificate_pem)
    log = (tmp_path / "service.log").open("ab")
    proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once; the wait is async below
        [sys.executable, "-m", "service", "serve"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(480):
                try:
                    async with session.get(f"{base}/tls/ca.pem", ssl=context) as answer:
                        assert answer.status == 200
                        assert "BEGIN CERTIFICATE" in await answer.text()
                        break
                except aiohttp.ClientConnectorError:
                    assert proc.poll() is None, (tmp_path / "service.log").read_text()[-2000:]
                    await asyncio.sleep(0.25)
            else:
                raise AssertionError("the API never answered over HTTPS")
            # Plain HTTP on the same port is not served.
            with pytest.raises(aiohttp.ClientError):
                async with session.get(base.replace("https://", "http://") + "/tls/ca.pem") as answer:
                    await answer.read()
            # A client that trusts another CA refuses the API's certificate.
            other = ssl.create_default_context(cadata=make_authority(NOW).certificate_pem)
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                async with session.get(f"{base}/tls/ca.pem", ssl=other) as answer:
                    await answer.read()
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 60)
        log.close()
