"""Naming an instance or a backup on the command line: an instance by its id or its name,
checked before it goes into a URL path."""

from __future__ import annotations

import re
from typing import Any

import click

from .client import Api
from .errors import ApiFailure, CliError

# Ids (i-..., b-...) and names are lowercase letters, digits and dashes (the API's patterns).
_INSTANCE_REF = re.compile(r"[a-z][a-z0-9-]{0,63}")
_BACKUP_ID = re.compile(r"b-[a-z0-9]{6,40}")


def instance_ref(_: click.Context | None, __: click.Parameter | None, value: str) -> str:
    if not _INSTANCE_REF.fullmatch(value):
        raise click.BadParameter(f"{value!r} is neither an instance id (i-...) nor an instance name")
    return value


def backup_id(_: click.Context | None, __: click.Parameter | None, value: str) -> str:
    if not _BACKUP_ID.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not a backup id (b-...)")
    return value


def find_instance(api: Api, ref: str) -> dict[str, Any]:
    """The instance with this id, else the one with this name; a clear error otherwise."""
    try:
        found: dict[str, Any] = api.get(f"/instances/{ref}")
        return found
    except ApiFailure as exc:
        if exc.status != 404:
            raise
    named = [i for i in api.pages("/instances") if i["name"] == ref]
    if not named:
        raise CliError(f"no instance with the id or name {ref!r}", hints=["`dbvend list` shows yours"])
    if len(named) > 1:  # an admin sees every owner's instances; names are unique per owner
        ids = ", ".join(f"{i['id']} ({i['owner']})" for i in named)
        raise CliError(f"{len(named)} instances are named {ref!r}: {ids}; give the id")
    by_id: dict[str, Any] = api.get(f"/instances/{named[0]['id']}")
    return by_id
