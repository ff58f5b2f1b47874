"""dbvend create / list / show / connect / stop / start / restart / resize / rotate / delete."""

from __future__ import annotations

from typing import Any

import click

from . import connect as client_launch
from .actions import act, wait_option
from .errors import CliError
from .output import changes_line, emit, emit_json, instance_table, instances_table
from .refs import find_instance, instance_ref
from .session import open_api, options, shared
from .values import parse_megabytes, parse_set
from .waiting import follow, timeout_option

ENGINES = ("redis", "mysql")
STATUSES = ("provisioning", "running", "stopped", "deleting", "failed")
ref_argument = click.argument("ref", metavar="ID", callback=instance_ref)


def _settings(base: dict[str, Any], maxmemory: str | None, memory: int | None) -> dict[str, Any]:
    settings = dict(base)
    if maxmemory is not None:
        settings["maxmemory"] = maxmemory
    if memory is not None:
        settings["memory_mb"] = memory
    return settings


maxmemory_option = click.option("--maxmemory", metavar="SIZE", help="Redis maxmemory: 256mb, 1gb or bytes")
memory_option = click.option(
    "--memory", metavar="MB", callback=parse_megabytes, help="MySQL memory_mb (container limit): 512, 1gb"
)
set_option = click.option(
    "--set",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    callback=parse_set,
    help="any engine setting, repeatable (maxmemory_policy=allkeys-lru, appendonly=true)",
)


@click.command()
@shared
@click.argument("engine", type=click.Choice(ENGINES))
@click.option("--name", help="unique among yours; defaults to the instance id")
@maxmemory_option
@memory_option
@set_option
@click.option("--plan", metavar="NAME", help="a plan of the server's (GET /plans)")
@click.option("--wait/--no-wait", default=False, help="follow the deployment, then show the connection")
@timeout_option
def create(
    engine: str,
    name: str | None,
    maxmemory: str | None,
    memory: int | None,
    pairs: dict[str, Any],
    plan: str | None,
    wait: bool,
    timeout: int,
) -> None:
    """Ask for a Redis or MySQL instance."""
    body: dict[str, Any] = {"engine": engine}
    if name is not None:
        body["name"] = name
    settings = _settings(pairs, maxmemory, memory)
    if settings:
        body["settings"] = settings
    if plan is not None:
        body["plan"] = plan
    with open_api() as api:
        _, inst = api.request("POST", "/instances", json=body)
        if wait:
            follow(api, inst["operation_id"], f"create {inst['id']}", timeout=timeout)
            inst = api.get(f"/instances/{inst['id']}")
        elif inst["status"] != "running":
            click.echo(f"accepted; follow it with `dbvend show {inst['id']}`", err=True)
    emit(inst, instance_table(inst))


@click.command(name="list")
@shared
@click.option("--engine", type=click.Choice(ENGINES), help="only this engine")
@click.option("--status", type=click.Choice(STATUSES), help="only this status")
def list_instances(engine: str | None, status: str | None) -> None:
    """Your instances, newest first."""
    with open_api() as api:
        items = list(api.pages("/instances", engine=engine, status=status))
    emit(items, instances_table(items) if items else "no instances")


@click.command()
@shared
@ref_argument
@click.option("--uri", is_flag=True, help="print only the connection URI (with the password)")
def show(ref: str, uri: bool) -> None:
    """One instance: status, settings, connection details."""
    with open_api() as api:
        inst = find_instance(api, ref)
    if uri:
        value = (inst.get("connection") or {}).get("uri")
        if options().json:
            emit_json({"uri": value})
        else:
            click.echo(value)
        return
    emit(inst, instance_table(inst))


@click.command(name="connect")
@shared
@ref_argument
def connect_command(ref: str) -> None:
    """Open redis-cli or mariadb on the instance (the password stays off the command line;
    a TLS instance is verified against the server's CA bundle)."""
    with open_api() as api:
        inst = find_instance(api, ref)
        ca_file = None
        if client_launch.tls_mode(inst) != "off":
            ca_file = client_launch.save_ca(api.text("/tls/ca.pem"))
    client_launch.run(client_launch.plan(inst, ca_file))


def _simple(kind: str, summary: str) -> click.Command:
    @click.command(name=kind, help=summary)
    @shared
    @ref_argument
    @wait_option
    @timeout_option
    def command(ref: str, wait: bool, timeout: int) -> None:
        with open_api() as api:
            act(api, find_instance(api, ref), "POST", f"/{kind}", kind, wait=wait, timeout=timeout)

    return command


stop = _simple("stop", "Stop the instance (port, data and credentials are kept).")
start = _simple("start", "Start a stopped instance.")
restart = _simple("restart", "Restart the instance's server.")


@click.command()
@shared
@ref_argument
@maxmemory_option
@memory_option
@set_option
@wait_option
@timeout_option
def resize(
    ref: str, maxmemory: str | None, memory: int | None, pairs: dict[str, Any], wait: bool, timeout: int
) -> None:
    """Change settings (PATCH): --maxmemory for Redis, --memory for MySQL, or any --set."""
    settings = _settings(pairs, maxmemory, memory)
    if not settings:
        raise click.UsageError("give --maxmemory, --memory or --set")
    with open_api() as api:
        inst = find_instance(api, ref)
        status, answer = api.request("PATCH", f"/instances/{inst['id']}", json={"settings": settings})
        note = changes_line(answer.get("changes"))
        if status == 202 and not wait:
            emit(answer, f"resize {inst['id']}: operation {answer['id']} {answer['status']}; {note}")
            return
        if status == 202:
            follow(api, answer["id"], f"resize {inst['id']}", timeout=timeout)
        if note:
            click.echo(note, err=True)
        final = api.get(f"/instances/{inst['id']}")
    emit(final, instance_table(final))


@click.command()
@shared
@ref_argument
@click.option(
    "--grace",
    "grace_seconds",
    type=click.IntRange(0, 86400),
    default=0,
    help="seconds the old password keeps working (Redis only)",
)
@wait_option
@timeout_option
def rotate(ref: str, grace_seconds: int, wait: bool, timeout: int) -> None:
    """Give the instance's account a new password."""
    with open_api() as api:
        inst = find_instance(api, ref)
        body = {"grace_seconds": grace_seconds} if grace_seconds else {}
        answer = act(api, inst, "POST", "/rotate-password", "rotate", body=body, wait=wait, timeout=timeout)
    if not wait and not options().json:
        # This answer is the only place the new password is shown before the rotation is done.
        click.echo(f"new password: {answer['password']} (in use once the operation succeeded)")


@click.command()
@shared
@ref_argument
@click.option("--yes", "-y", is_flag=True, help="do not ask")
@click.option("--final-backup", is_flag=True, help="take a last backup first; it outlives the instance")
@wait_option
@timeout_option
def delete(ref: str, yes: bool, final_backup: bool, wait: bool, timeout: int) -> None:
    """Delete the instance, its container and all its data."""
    with open_api() as api:
        inst = find_instance(api, ref)
        if not yes:
            click.confirm(f"delete {inst['id']} ({inst['name']}) and all its data?", abort=True, err=True)
        params = {"final_backup": "true"} if final_backup else None
        _, op = api.request("DELETE", f"/instances/{inst['id']}", params=params)
        if op is None:
            raise CliError("the server answered the delete without an operation")
        if wait:
            follow(api, op["id"], f"delete {inst['id']}", timeout=timeout)
    result = {"id": inst["id"], "operation_id": op["id"], "deleted": wait}
    emit(result, f"{inst['id']} deleted" if wait else f"{inst['id']}: delete {op['status']}")
