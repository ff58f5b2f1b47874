"""dbvend login / logout: a bearer token from POST /auth/login, kept in the config file."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from . import config
from .client import Api, is_plain_http_remote
from .errors import ApiFailure, CliError, NetworkFailure
from .output import emit
from .session import open_api, server_url, shared


@click.command()
@shared
@click.option("--user", "username", metavar="NAME", help="your dbvend user name (prompted if left out)")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="read the password from the first line of stdin (for scripts) instead of a prompt",
)
def login(username: str | None, password_stdin: bool) -> None:
    """Log in and save the token (the password is prompted, never an argument)."""
    url = server_url()
    if is_plain_http_remote(url):
        click.secho(
            f"warning: {url} is plain HTTP: the password and token cross the network in clear",
            err=True,
            fg="yellow",
        )
    if username is None:
        if password_stdin:
            raise click.UsageError("--password-stdin needs --user")
        username = click.prompt("user", err=True)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, err=True)
    if not password:
        raise CliError("no password given")
    with Api(url, None) as api:
        _, token = api.request(
            "POST", "/auth/login", json={"username": username, "password": password}, auth=False
        )
    stored, _ = config.load()
    saved = replace(stored, url=url, username=username, token=token["token"], expires_at=token["expires_at"])
    path = config.save(saved)
    emit(
        {"url": url, "username": username, "expires_at": token["expires_at"], "config": str(path)},
        f"logged in to {url} as {username}; token saved in {path} (expires {token['expires_at']})",
    )


@click.command()
@shared
def logout() -> None:
    """Revoke the token on the server and forget it here."""
    stored, _ = config.load()
    with open_api() as api:
        if api.token is None:
            raise CliError("not logged in")
        saved_one = api.token == stored.token
        try:
            api.request("POST", "/auth/logout")
        except ApiFailure as exc:
            if exc.status != 401:  # 401: expired or revoked already, which is what we want
                raise
        except NetworkFailure as exc:
            if saved_one:
                config.save(replace(stored, token=None, expires_at=None))
                exc.hints.append("the saved token is forgotten here but stays valid until it expires")
            raise
        url = api.url
    if saved_one:
        config.save(replace(stored, token=None, expires_at=None))
        emit({"url": url, "logged_out": True}, f"logged out of {url}")
    else:
        emit({"url": url, "logged_out": True}, f"revoked the token in DBVEND_TOKEN at {url}")
