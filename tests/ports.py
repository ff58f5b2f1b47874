"""Every host port range the tests hand to an inventory, from one table.

Each pytest-xdist worker gets a band of its own (BAND ports from DBVEND_TEST_PORT_BASE up,
one band after the other), and every range below is a slice of the worker's band: two
workers, or a second checkout testing on the same machine with another
DBVEND_TEST_PORT_BASE, never hand out the same port. tests/test_ports.py checks that the
slices do not overlap and fit in a band.

The fleet testbed's hosts have network namespaces of their own, so their port ranges
(inventory/fleet) are outside this table."""

from __future__ import annotations

import os

# Published ports stay below Linux's ephemeral range (32768 up) with the default base and
# up to four workers: 21000 + 4 * 2000 = 29000.
BASE = int(os.environ.get("DBVEND_TEST_PORT_BASE", "21000"))
BAND = 2000

# name: (offset in the worker's band, size). The session service creates the most
# instances; a deleted instance's port stays blocked for DBVEND_PORT_BLOCK_SECONDS.
RANGES: dict[str, tuple[int, int]] = {
    "session": (0, 450),
    "tls": (450, 50),
    "roles": (500, 100),
    "pool": (600, 100),
    "monitoring": (700, 250),
    "monitoring.egress": (950, 50),
    "monitoring.recheck": (1000, 50),
    "e2e.secrets": (1050, 100),
    "e2e.crash": (1150, 100),
    "e2e.capacity": (1250, 50),
    "e2e.day2_crash": (1300, 50),
    "e2e.lifecycle_crash": (1350, 50),
    "e2e.rotate_crash": (1400, 50),
    "e2e.backup_restore": (1450, 50),
    "e2e.backup_store_host": (1500, 50),
    "e2e.backup_schedules": (1550, 50),
    "api.view_cache": (1600, 50),
    "credentials.crash": (1650, 50),
    "deploy.two_processes": (1700, 100),
    "deploy.readiness": (1800, 20),
    "deploy.image": (1820, 20),
    "contract": (1840, 60),
    "events.stream": (1900, 50),
    "pool.second": (1950, 50),
}


def worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker[2:].isdigit() else 0


def port_range(name: str) -> tuple[int, int]:
    """The first and last port of `name`'s range for this worker."""
    offset, size = RANGES[name]
    start = BASE + worker_index() * BAND + offset
    return start, start + size - 1
