"""Following an operation to its end: GET /operations/{id} (and the instance's status)
until it succeeds or fails, with a spinner on a terminal and one line per change
elsewhere. The display goes to stderr, so stdout keeps only the result."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from .client import Api
from .errors import ApiFailure, CliError, Interrupted, WaitStopped

POLL_SECONDS = 0.5
DEFAULT_TIMEOUT = 900

timeout_option = click.option(
    "--timeout",
    type=click.IntRange(1, 86400),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="seconds to wait before giving up waiting (the operation goes on)",
)


def _describe(what: str, op: dict[str, Any], instance_status: str | None) -> str:
    line = f"{what}: operation {op['id']} {op['status']}"
    if op.get("attempts", 0) > 1:
        line += f" (attempt {op['attempts']})"
    if instance_status:
        line += f", instance {instance_status}"
    return line


def _instance_status(api: Api, instance_id: str) -> str | None:
    try:
        return str(api.get(f"/instances/{instance_id}")["status"])
    except ApiFailure as exc:
        if exc.status == 404:  # a delete that finished
            return "gone"
        raise


def follow(api: Api, operation_id: str, what: str, *, timeout: int) -> dict[str, Any]:
    """The finished operation (succeeded); CliError when it failed or the wait ran out."""
    console = Console(stderr=True)
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(what)
        try:
            op = _poll(api, operation_id, what, progress, task, deadline, timeout)
        except KeyboardInterrupt:
            raise Interrupted(f"stopped waiting; operation {operation_id} goes on on the server") from None
    elapsed = time.monotonic() - started
    if op["status"] == "failed":
        raise CliError(f"{what} failed after {elapsed:.1f}s: {op.get('error') or 'no reason given'}")
    click.echo(f"{what}: done in {elapsed:.1f}s", err=True)
    return op


def _poll(
    api: Api, operation_id: str, what: str, progress: Progress, task: TaskID, deadline: float, timeout: int
) -> dict[str, Any]:
    last = ""
    terminal = progress.console.is_terminal
    while True:
        op: dict[str, Any] = api.get(f"/operations/{operation_id}")
        line = _describe(what, op, _instance_status(api, op["instance_id"]))
        progress.update(task, description=line)
        if not terminal and line != last:
            click.echo(line, err=True)
        last = line
        if op["status"] in ("succeeded", "failed"):
            return op
        if time.monotonic() >= deadline:
            raise WaitStopped(
                f"stopped waiting after {timeout}s; operation {operation_id} is {op['status']}",
                hints=["it goes on on the server: `dbvend show ID` follows the instance"],
            )
        time.sleep(POLL_SECONDS)
