"""The Redis clients of the service share one verifying ssl context per CA bundle: redis-py
would build a context for each new connection, loading the system's trust store first
(tens of milliseconds per claim, readiness check and probe; hundreds on a busy host)."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

from service.engines import redis_client
from service.tls import client_context, make_authority


async def test_tls_connections_use_the_shared_context_of_the_bundle() -> None:
    pem = make_authority(datetime.now(UTC)).certificate_pem
    clients = [redis_client._client("127.0.0.1", 1, "u", "p", 1.0, tls_ca=pem) for _ in range(2)]
    try:
        contexts = []
        for client in clients:
            connection = client.connection_pool.make_connection()
            contexts.append(connection._connection_arguments()["ssl"])
        assert contexts[0] is contexts[1] is client_context(pem)
        context = contexts[0]
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
        # The bundle only: no system CA is trusted.
        assert len(context.get_ca_certs()) == 1
    finally:
        for client in clients:
            await client.aclose()


async def test_plain_connections_stay_plain() -> None:
    client = redis_client._client("127.0.0.1", 1, "u", "p", 1.0)
    try:
        assert "ssl" not in client.connection_pool.make_connection()._connection_arguments()
    finally:
        await client.aclose()
