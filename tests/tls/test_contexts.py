"""The ssl contexts: dbvend as a verifying client of its instances, and the API's HTTPS.
A real handshake over loopback, both ends Python's ssl (OpenSSL)."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.tls import client_context, issue, make_authority, server_context, server_names

NOW = datetime.now(UTC)
CA = make_authority(NOW)


async def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, host: str) -> bytes:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server)
    port = listener.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname=host)
        data = await reader.read()
        writer.close()
        return data
    finally:
        listener.close()
        await listener.wait_closed()


def _server(tmp: Path, address: str = "127.0.0.1") -> ssl.SSLContext:
    issued = issue(CA, server_names(address, "i-abcdefgh"), now=NOW)
    cert, key = tmp / "server.pem", tmp / "server.key"
    cert.write_text(issued.certificate_pem)
    key.write_text(issued.key_pem)
    key.chmod(0o600)
    return server_context(cert, key)


async def test_the_client_verifies_the_ca_and_the_host(tmp_path: Path) -> None:
    server = _server(tmp_path)
    client = client_context(CA.certificate_pem)
    assert client is client_context(CA.certificate_pem)  # shared per bundle
    assert client.verify_mode == ssl.CERT_REQUIRED
    assert client.check_hostname
    assert client.minimum_version == server.minimum_version == ssl.TLSVersion.TLSv1_2
    assert await _handshake(server, client, "127.0.0.1") == b"hello"
    assert await _handshake(server, client, "i-abcdefgh") == b"hello"
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        await _handshake(server, client, "localhost")
    stranger = client_context(make_authority(NOW).certificate_pem)
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(server, stranger, "127.0.0.1")
