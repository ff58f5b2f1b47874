"""The port registry (tests/ports.py): disjoint slices inside a band, disjoint bands per
worker, and no test picking a range of its own by hand."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from tests import ports


def test_slices_are_disjoint_and_fit_in_a_band() -> None:
    spans = sorted(ports.RANGES.values())
    for (offset, size), (next_offset, _) in itertools.pairwise(spans):
        assert offset + size <= next_offset, f"{offset}+{size} runs into {next_offset}"
    last_offset, last_size = spans[-1]
    assert last_offset + last_size <= ports.BAND
    assert all(size > 0 for _, size in spans)


def test_workers_get_disjoint_bands(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[int, str] = {}
    for worker in ("gw0", "gw1", "gw2", "gw3"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        for name in ports.RANGES:
            first, last = ports.port_range(name)
            for port in range(first, last + 1):
                assert port not in seen, f"{worker} {name} and {seen[port]} share {port}"
                seen[port] = f"{worker} {name}"
    # Published ports stay out of Linux's ephemeral range with the default base.
    if ports.BASE == 21000:
        assert max(seen) < 32768


def test_no_test_hard_codes_a_port_range() -> None:
    root = Path(__file__).parent
    literal = re.compile(r"ports=\(\d{4,5}, \d{4,5}\)|own_service\(\s*\w+,\s*\(\d{4,5}, \d{4,5}\)")
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "test_ports.py" and literal.search(path.read_text())
    ]
    assert offenders == []
