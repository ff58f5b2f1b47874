"""Claiming a MariaDB pool slot (the warm pool): over the network as the slot's claim
account, wipe what a tenant-less slot or an earlier attempt left, then make the tenant's
database and account from a password hash and apply the live settings. Two round trips
after the handshake: one query lists what to drop, one multi-statement batch does the rest.

Only the claim account (roles/mysql, `dbvend_pool_slot`) can do this; converge.yml drops it.
The server's own character set (character_set_server) is left to converge, which sets it as
root over the socket, together with the conf.d file. innodb_buffer_pool_size (a slot of a
bigger class claimed for a smaller instance) needs SUPER, which the claim account does not
have: a procedure of root's does that one thing (RESIZE_PROCEDURE), dropped by converge."""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.constants import CLIENT

from .base import Rekey, RekeyFailed
from .mysql_client import tls_arguments
from .probe import describe

# roles/mysql defaults/main.yml mysql_claim_username.
CLAIM_ACCOUNT = "dbvend_claim"
# Accounts a claim never drops: the image's, the role's own (monitor, claim).
# roles/mysql vars/main.yml __mysql_resize_procedure: SET GLOBAL innodb_buffer_pool_size as
# root (it needs SUPER, which the claim account does not have), made with a slot's claim account.
RESIZE_PROCEDURE = "mysql.dbvend_resize_buffer_pool"
KEEP_ACCOUNTS = frozenset({"root", "mariadb.sys", "mysql", "healthcheck", "dbvend_monitor", CLAIM_ACCOUNT})
SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
_USERNAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")
_DATABASE = re.compile(r"[A-Za-z0-9_]{1,64}")
_NAME = re.compile(r"[a-z0-9_]{1,64}")  # charset and collation names
_HASH = re.compile(r"\*[0-9A-F]{40}")
_LEFTOVERS = (
    "SELECT 'd', SCHEMA_NAME FROM information_schema.SCHEMATA"
    " UNION ALL SELECT 'u', User FROM mysql.user WHERE Host = '%' AND is_role = 'N'"
)


@dataclass(frozen=True)
class Tenant:
    """What a claim makes, checked so that it can be written into SQL text (identifiers
    cannot be parameters)."""

    database: str
    charset: str
    collation: str
    username: str
    password_hash: str
    max_connections: int
    binlog_format: str | None
    binlog_expire_logs_seconds: int
    # innodb_buffer_pool_size for the instance's memory when it differs from the slot's (a
    # slot of a bigger class serves a smaller instance: the pool shrinks online; the
    # container's limit follows in converge); None: the slot's size is the instance's.
    buffer_pool_bytes: int | None

    def __post_init__(self) -> None:
        if not _DATABASE.fullmatch(self.database) or self.database.lower() in SYSTEM_DATABASES:
            raise RekeyFailed("the database name cannot be used")
        if not _USERNAME.fullmatch(self.username) or self.username.lower() in KEEP_ACCOUNTS:
            raise RekeyFailed("the user name cannot be used")
        if not (_NAME.fullmatch(self.charset) and _NAME.fullmatch(self.collation)):
            raise RekeyFailed("the character set or collation cannot be used")
        if not _HASH.fullmatch(self.password_hash):
            raise RekeyFailed("the password hash is not a mysql_native_password hash")
        if self.binlog_format not in (None, "ROW", "STATEMENT", "MIXED"):
            raise RekeyFailed("the binlog format cannot be used")


def application_grant(database: str, username: str) -> str:
    """The application account's grant, as roles/mysql writes it (vars/main.yml
    __mysql_app_grant_sql; tests/engines/test_mysql_pool.py checks they agree). `\\_`: a
    literal `_` (a wildcard in a database grant)."""
    return f"GRANT ALL ON `{database.replace('_', chr(92) + '_')}`.* TO '{username}'@'%'"


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _statements(tenant: Tenant, leftovers: list[tuple[str, str]], conn: Any) -> list[tuple[str, str]]:
    """[(what it does, SQL)] in order; names found on the server are quoted, not trusted."""
    steps: list[tuple[str, str]] = []
    for kind, name in leftovers:
        if kind == "d" and name.lower() not in SYSTEM_DATABASES:
            steps.append(("dropping a leftover database", f"DROP DATABASE IF EXISTS {_ident(name)}"))
        elif kind == "u" and name.lower() not in KEEP_ACCOUNTS:
            steps.append(("dropping a leftover account", f"DROP USER IF EXISTS {conn.escape(name)}@'%'"))
    steps.append(
        (
            "creating the database",
            f"CREATE DATABASE {_ident(tenant.database)} CHARACTER SET {tenant.charset}"
            f" COLLATE {tenant.collation}",
        )
    )
    steps.append(
        (
            "creating the account",
            f"CREATE USER '{tenant.username}'@'%' IDENTIFIED BY PASSWORD '{tenant.password_hash}'",
        )
    )
    steps.append(("granting the database", application_grant(tenant.database, tenant.username)))
    settings = [
        f"max_connections = {int(tenant.max_connections)}",
        f"binlog_expire_logs_seconds = {int(tenant.binlog_expire_logs_seconds)}",
    ]
    if tenant.binlog_format:
        settings.append(f"binlog_format = '{tenant.binlog_format}'")
    steps.append(("applying the settings", "SET GLOBAL " + ", ".join(settings)))
    if tenant.buffer_pool_bytes is not None:
        size = int(tenant.buffer_pool_bytes)
        steps.append(("sizing the buffer pool", f"CALL {RESIZE_PROCEDURE}({size})"))
    return steps


def _rekey_sync(
    address: str, port: int, admin_password: str, tenant: Tenant, limit: float, tls_ca: str | None
) -> None:
    seconds = max(1, math.ceil(limit))
    try:
        conn = pymysql.connect(
            host=address,
            port=port,
            user=CLAIM_ACCOUNT,
            password=admin_password,
            connect_timeout=seconds,
            read_timeout=seconds,
            write_timeout=seconds,
            client_flag=CLIENT.MULTI_STATEMENTS,
            autocommit=True,
            # tls_ca (the CA bundle): certificate and host name checked, else plain.
            **tls_arguments(tls_ca),
        )
    except (pymysql.MySQLError, OSError) as exc:
        # The client's first line names the user and host, never the password.
        raise RekeyFailed(f"cannot connect to {address}:{port} as {CLAIM_ACCOUNT}: {describe(exc)}") from None
    step = "listing leftovers"
    try:
        with conn.cursor() as cursor:
            cursor.execute(_LEFTOVERS)
            leftovers = [(str(kind), str(name)) for kind, name in cursor.fetchall()]
            steps = _statements(tenant, leftovers, conn)
            step = steps[0][0]
            cursor.execute(";\n".join(sql for _, sql in steps))
            for what, _ in steps[1:]:
                step = what
                cursor.nextset()
    except pymysql.MySQLError as exc:
        # The server's message may quote the statement, hash included: its code only.
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else "-"
        raise RekeyFailed(f"MariaDB error {code} while {step} on {address}:{port}") from None
    except OSError as exc:
        raise RekeyFailed(f"connection to {address}:{port} lost while {step}: {describe(exc)}") from None
    finally:
        conn.close()


async def rekey(target: Rekey[Any], tenant: Tenant, limit: float, *, tls_ca: str | None = None) -> None:
    try:
        await asyncio.wait_for(
            asyncio.to_thread(
                _rekey_sync,
                target.address,
                target.port,
                target.credentials.admin_password,
                tenant,
                limit,
                tls_ca,
            ),
            timeout=limit,
        )
    except TimeoutError:
        raise RekeyFailed(f"no answer from {target.address}:{target.port} within {limit:g} s") from None
