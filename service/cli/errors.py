"""What the CLI tells the user when something goes wrong: a short message on stderr and an
exit code, never a traceback. Exit codes: 1 the API refused or an operation failed,
2 bad usage (click's), 3 the server cannot be reached, 4 stopped waiting."""

from __future__ import annotations

from typing import IO, Any

import click

API_ERROR = 1
NETWORK_ERROR = 3
WAIT_TIMEOUT = 4


class CliError(click.ClickException):
    exit_code = API_ERROR

    def __init__(self, message: str, *, hints: list[str] | None = None) -> None:
        super().__init__(message)
        self.hints = hints or []

    def show(self, file: IO[Any] | None = None) -> None:
        click.secho(f"error: {self.format_message()}", err=True, fg="red")
        for hint in self.hints:
            click.echo(f"  {hint}", err=True)


class ApiFailure(CliError):
    """A 4xx/5xx answer in the API's error shape: the code, the message and each field."""

    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            super().__init__(f"the server answered HTTP {status} without an error body")
            self.status, self.code, self.details = status, "", []
            return
        self.status = status
        self.code = str(error.get("code", ""))
        raw_details = error.get("details") or []
        self.details = [
            (str(d.get("field", "")), str(d.get("message", ""))) for d in raw_details if isinstance(d, dict)
        ]
        hints = [f"{field}: {message}" for field, message in self.details]
        if status == 401:
            hints.append("log in with `dbvend login` (or set DBVEND_TOKEN)")
        request_id = error.get("request_id")
        if status >= 500 and request_id:
            hints.append(f"request id {request_id} (quote it to the operator)")
        message = str(error.get("message", "")) or f"HTTP {status}"
        # The details are listed one per line below: the summary line need not repeat them.
        if self.details and status == 422:
            message = "invalid request"
        super().__init__(f"{message} (HTTP {status} {self.code})", hints=hints)


class NetworkFailure(CliError):
    exit_code = NETWORK_ERROR


class WaitStopped(CliError):
    """The wait ran out (or was interrupted); the operation goes on on the server."""

    exit_code = WAIT_TIMEOUT


class Interrupted(CliError):
    exit_code = 130  # as a shell reports SIGINT
