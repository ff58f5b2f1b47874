"""Rule durations ("30s", "5m") are read without a backtracking pattern."""

from __future__ import annotations

import time

import pytest

from service.monitoring.conditions import parse_duration


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (30, 30),
        (1.5, 2),
        ("30s", 30),
        (" 5m ", 300),
        ("1.5h", 5400),
        ("1 d", 86400),
        ("90", 90),
        ("1500ms", 2),
    ],
)
def test_durations(raw: object, seconds: int) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize(
    "raw",
    [
        "1h\n",
        "1.",
        ".5",
        "1x",
        "\u0661\u0662s",
        "1e3",
        "",
        "s",
        "1" + " " * 65_000 + "!",
        10**400,
        float("nan"),
        True,
    ],
)
def test_what_is_not_a_duration_is_refused(raw: object) -> None:
    with pytest.raises(ValueError, match="must be"):
        parse_duration(raw)


def test_a_long_run_of_spaces_is_refused_at_once() -> None:
    started = time.perf_counter()
    for _ in range(100):
        with pytest.raises(ValueError, match="must be"):
            parse_duration("1" + " " * 65_000 + "!")
    assert time.perf_counter() - started < 1.0
