"""dbvend backup / backups / restore."""

from __future__ import annotations

import click

from .actions import act, wait_option
from .output import backup_table, backups_table, emit
from .refs import backup_id, find_instance, instance_ref
from .session import open_api, shared
from .waiting import follow, timeout_option

ref_argument = click.argument("ref", metavar="ID", callback=instance_ref)


@click.command()
@shared
@ref_argument
@click.option("--wait/--no-wait", default=False, help="follow the backup until it is completed")
@timeout_option
def backup(ref: str, wait: bool, timeout: int) -> None:
    """Back up the instance into the service's store."""
    with open_api() as api:
        inst = find_instance(api, ref)
        _, made = api.request("POST", f"/instances/{inst['id']}/backups")
        if wait and made["status"] != "completed":
            follow(api, made["operation_id"], f"backup {inst['id']}", timeout=timeout)
            made = api.get(f"/backups/{made['id']}")
    emit(made, backup_table(made))


@click.command()
@shared
@ref_argument
def backups(ref: str) -> None:
    """The instance's backups, newest first."""
    with open_api() as api:
        inst = find_instance(api, ref)
        items = list(api.pages(f"/instances/{inst['id']}/backups"))
    emit(items, backups_table(items) if items else "no backups")


@click.command()
@shared
@ref_argument
@click.option("--backup", "backup_ref", required=True, metavar="BID", callback=backup_id, help="b-... id")
@wait_option
@timeout_option
def restore(ref: str, backup_ref: str, wait: bool, timeout: int) -> None:
    """Replace the instance's data with one of your backups, in place."""
    with open_api() as api:
        inst = find_instance(api, ref)
        act(
            api,
            inst,
            "POST",
            "/restore",
            "restore",
            body={"backup_id": backup_ref},
            wait=wait,
            timeout=timeout,
        )
