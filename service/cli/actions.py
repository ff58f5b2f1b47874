"""What the commands that start an operation share: send the request, then either show
what was accepted or follow the operation and show the instance it left."""

from __future__ import annotations

from typing import Any

import click

from .client import Api
from .output import emit, instance_table
from .waiting import follow

wait_option = click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="follow the operation to its end",
)


def act(
    api: Api,
    instance: dict[str, Any],
    method: str,
    path: str,
    what: str,
    *,
    body: dict[str, Any] | None = None,
    wait: bool,
    timeout: int,
    note: str | None = None,
) -> dict[str, Any]:
    """An action route's answer: 200 with the instance (done, or nothing to do) or 202 with
    the operation. With wait, the instance after the operation; returns the first answer."""
    status, answer = api.request(method, f"/instances/{instance['id']}{path}", json=body)
    label = f"{what} {instance['id']}"
    if status == 202 and not wait:
        emit(answer, f"{label}: operation {answer['id']} {answer['status']} (follow it with `dbvend show`)")
        return dict(answer)
    if status == 202:
        follow(api, answer["id"], label, timeout=timeout)
    elif answer.get("operation_id") is None:
        click.echo(f"{label}: nothing to do, the instance is {answer['status']} already", err=True)
    if note:
        click.echo(note, err=True)
    final = api.get(f"/instances/{instance['id']}")
    emit(final, instance_table(final))
    return dict(answer)
