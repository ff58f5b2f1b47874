"""The `dbvend` command group (the console script's entry point)."""

from __future__ import annotations

import os
import sys

import click

from .auth_commands import login, logout
from .backup_commands import backup, backups, restore
from .errors import API_ERROR, CliError
from .instance_commands import (
    connect_command,
    create,
    delete,
    list_instances,
    resize,
    restart,
    rotate,
    show,
    start,
    stop,
)
from .session import shared

COMMANDS = (
    login,
    logout,
    create,
    list_instances,
    show,
    connect_command,
    stop,
    start,
    restart,
    resize,
    rotate,
    backup,
    backups,
    restore,
    delete,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@shared
def cli() -> None:
    """dbvend: MySQL and Redis instances on request, from the command line.

    The server is --url, else DBVEND_URL, else the one you logged in to; the token is
    DBVEND_TOKEN, else the one `dbvend login` saved."""


for command in COMMANDS:
    cli.add_command(command)


def main() -> None:
    try:
        cli(prog_name="dbvend")
    except (KeyError, TypeError, ValueError) as exc:
        # An answer of a shape this client does not know (an older or newer server):
        # said in one line; DBVEND_DEBUG=1 shows where.
        if os.environ.get("DBVEND_DEBUG"):
            raise
        CliError(f"unexpected answer from the server ({type(exc).__name__}: {exc})").show()
        sys.exit(API_ERROR)
