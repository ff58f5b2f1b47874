"""What the TLS role tests share: a CA and certificates from service/tls naming 127.0.0.1 (the
test host's dbvend_address), the role's TLS variables, the reports of a run, and the check
that no key material reaches Ansible's output."""

from __future__ import annotations

import json
import re
import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.tls import Authority, Issued, bundle, issue, make_authority, server_names
from tests.roles.conftest import Run

ADDRESS = "127.0.0.1"
_STATS = re.compile(r"^\s*RUN: (\{.*\})\s*$", re.M)


@dataclass
class Certificates:
    """One deployment's CA (and a second one, for a CA rotation), the CA files clients get."""

    tmp: Path
    ca: Authority
    keys: list[str] = field(repr=False)

    @classmethod
    def make(cls, tmp: Path) -> Certificates:
        return cls(tmp, make_authority(datetime.now(UTC)), [])

    def issue(self, instance_id: str, ca: Authority | None = None) -> Issued:
        issued = issue(ca or self.ca, server_names(ADDRESS, instance_id), now=datetime.now(UTC))
        self.keys.append(issued.key_pem)
        return issued

    def role_vars(
        self,
        instance_id: str,
        mode: str,
        *,
        ca: Authority | None = None,
        bundle_of: list[Authority] | None = None,
    ) -> dict[str, Any]:
        """tls, tls_cert_pem, tls_key_pem, tls_ca_pem as the service passes them."""
        issued = self.issue(instance_id, ca)
        return {
            "tls": mode,
            "tls_cert_pem": issued.certificate_pem,
            "tls_key_pem": issued.key_pem,
            "tls_ca_pem": bundle(a.certificate_pem for a in (bundle_of or [ca or self.ca])),
        }

    def ca_file(self, ca: Authority | None = None, name: str = "ca.pem") -> Path:
        path = self.tmp / name
        path.write_text((ca or self.ca).certificate_pem)
        return path

    def assert_no_key_in(self, *runs: Run) -> None:
        """No line of any key issued here in any output (-vvv and --diff included)."""
        for run in runs:
            assert "PRIVATE KEY" not in run.output
            for key in self.keys:
                for line in key.splitlines()[1:-1]:
                    assert line not in run.output


def stats(run: Run) -> dict[str, Any]:
    """The run's set_stats, printed by ANSIBLE_SHOW_CUSTOM_STATS=1."""
    found = _STATS.findall(run.output)
    assert found, run.output[-2000:]
    return dict(json.loads(found[-1]))


def served_serial(port: int, ca_file: Path, host: str = ADDRESS) -> int:
    """The serial of the certificate a new TLS connection to Redis gets (TLS from the first
    byte; MariaDB's starts in its own protocol), verified against ca_file for `host`."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with (
        socket.create_connection((ADDRESS, port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=host) as tls,
    ):
        cert = tls.getpeercert()
    assert cert is not None
    return int(str(cert["serialNumber"]), 16)
