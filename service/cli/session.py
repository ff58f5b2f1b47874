"""The options every command shares (--output, --url) and the API client they lead to:
URL from --url, DBVEND_URL, the saved login or the default; token from DBVEND_TOKEN or
the saved login, and the saved one only for the server it came from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

import click

from . import config
from .client import DEFAULT_URL, Api, normalize_url

OUTPUTS = ("table", "json")


@dataclass
class Options:
    output: str = "table"
    url: str | None = None

    @property
    def json(self) -> bool:
        return self.output == "json"


def options() -> Options:
    ctx = click.get_current_context()
    root = ctx.find_root()
    if not isinstance(root.obj, Options):
        root.obj = Options()
    return root.obj


def _set_output(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    if value is not None:
        options().output = value


def _set_url(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    if value is not None:
        options().url = value


output_option = click.option(
    "--output",
    "-o",
    type=click.Choice(OUTPUTS),
    default=None,
    expose_value=False,
    callback=_set_output,
    help="table (default) or json, on stdout",
)
url_option = click.option(
    "--url",
    default=None,
    expose_value=False,
    callback=_set_url,
    metavar="URL",
    help=f"the dbvend server (else DBVEND_URL, the saved login, {DEFAULT_URL})",
)


def shared(f: click.decorators.FC) -> click.decorators.FC:
    """--output and --url on a command as well as before it (`dbvend -o json list` and
    `dbvend list -o json`)."""
    return output_option(url_option(f))


def server_url() -> str:
    stored, _ = config.load()
    return normalize_url(options().url or os.environ.get("DBVEND_URL") or stored.url or DEFAULT_URL)


def open_api() -> Api:
    stored, warning = config.load()
    if warning:
        click.secho(f"warning: {warning}", err=True, fg="yellow")
    url = server_url()
    token = os.environ.get("DBVEND_TOKEN") or None
    hint = None
    if token is None and stored.token:
        if stored.url != url:
            hint = f"the saved login is for {stored.url}: `dbvend login --url {url}`"
        elif _expired(stored.expires_at):
            hint = f"the saved login expired at {stored.expires_at}: `dbvend login`"
        else:
            token = stored.token
    return Api(url, token, no_token_hint=hint)


def _expired(expires_at: str | None) -> bool:
    if not expires_at:
        return False
    try:
        when = datetime.fromisoformat(expires_at)
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when <= datetime.now(UTC)
