"""`dbvend connect`: replace this process with the engine's own client, with the password
where no other user can see it — never in argv (ps shows every process's command line):
- redis-cli reads it from REDISCLI_AUTH; a process's environment (/proc/PID/environ) is
  readable by its owner only.
- mariadb/mysql read it from --defaults-extra-file, here /dev/fd/N: a pipe the option text
  was written into before the exec. Nothing touches the disk, so there is nothing to delete;
  the client reads the pipe once at start-up and it is gone.

An instance with TLS (connection.tls.mode not off) is connected to over TLS, verified: the
CA bundle is fetched from the server (GET /api/v1/tls/ca.pem; public, so it is kept in the
user's cache directory) and the client checks the certificate and the host's name against
it (redis-cli --tls --cacert, mariadb --ssl-ca --ssl-verify-server-cert)."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CliError

# Ours, not the database client's business.
_DROPPED_ENV = ("DBVEND_TOKEN", "MYSQL_PWD", "REDISCLI_AUTH")
FD = "{fd}"  # in argv, replaced by the option pipe's descriptor number


@dataclass(frozen=True)
class Launch:
    """What to exec: argv (no secret in it), the environment, and option text for a pipe."""

    argv: list[str]
    env: dict[str, str]
    option_text: str | None = None


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}


def _program(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise CliError(
        f"{' or '.join(names)} is not installed",
        hints=["Debian/Ubuntu: apt-get install redis-tools mariadb-client"],
    )


def _option_value(value: str) -> str:
    """A value for a my.cnf line: quoted, with the escapes the option parser reads back."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise CliError("the credentials contain control characters; refusing to pass them on")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tls_mode(instance: dict[str, Any]) -> str:
    return str(((instance.get("connection") or {}).get("tls") or {}).get("mode", "off"))


def save_ca(bundle: str, cache_dir: Path | None = None) -> Path:
    """The CA bundle in the user's cache (public data; one file per bundle, so a CA rotation
    gets a new file and never a half-written one)."""
    if "-----BEGIN CERTIFICATE-----" not in bundle:
        raise CliError("the server's CA bundle (/api/v1/tls/ca.pem) is not a PEM certificate")
    base = cache_dir or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dbvend"
    base.mkdir(parents=True, exist_ok=True)
    path = base / f"ca-{hashlib.sha256(bundle.encode()).hexdigest()[:16]}.pem"
    if not path.exists():
        temporary = path.with_suffix(".tmp")
        temporary.write_text(bundle)
        temporary.replace(path)
    return path


def plan(instance: dict[str, Any], ca_file: Path | None = None) -> Launch:
    """`ca_file`: the CA bundle, for an instance with TLS (required to connect to one)."""
    conn = instance.get("connection") or {}
    if instance.get("status") != "running":
        raise CliError(f"instance {instance['id']} is {instance.get('status')}, not running")
    host, port = str(conn["host"]), str(conn["port"])
    tls = tls_mode(instance) != "off"
    if tls and ca_file is None:
        raise CliError(f"instance {instance['id']} uses TLS: the CA bundle is needed to verify it")
    if instance["engine"] == "redis":
        argv = [_program("redis-cli"), "-h", host, "-p", port, "--user", str(conn["username"])]
        if tls:
            argv += ["--tls", "--cacert", str(ca_file)]
        return Launch(argv, {**_base_env(), "REDISCLI_AUTH": str(conn["password"])})
    if instance["engine"] == "mysql":
        verify = [f"ssl-ca={_option_value(str(ca_file))}", "ssl-verify-server-cert"] if tls else []
        text = "\n".join(
            [
                "[client]",
                f"host={_option_value(host)}",
                f"port={port}",
                "protocol=tcp",
                f"user={_option_value(str(conn['username']))}",
                f"password={_option_value(str(conn['password']))}",
                *verify,
                "",
            ]
        )
        # --defaults-extra-file has to be the first argument.
        argv = [_program("mariadb", "mysql"), f"--defaults-extra-file=/dev/fd/{FD}", str(conn["database"])]
        return Launch(argv, _base_env(), option_text=text)
    raise CliError(f"dbvend connect does not know the engine {instance['engine']!r}")


def run(launch: Launch) -> None:
    """exec: the client takes over this process (its terminal, its exit code)."""
    argv = list(launch.argv)
    if launch.option_text is not None:
        data = launch.option_text.encode()
        read_end, write_end = os.pipe()
        # A few hundred bytes, far below the pipe's buffer: written whole before anyone reads.
        while data:
            data = data[os.write(write_end, data) :]
        os.close(write_end)
        os.set_inheritable(read_end, True)
        argv = [a.replace(FD, str(read_end)) for a in argv]
    try:
        os.execve(argv[0], argv, launch.env)  # noqa: S606 - argv is a list, no shell
    except OSError as exc:
        raise CliError(f"cannot run {argv[0]}: {exc.strerror}") from None
