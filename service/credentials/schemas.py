"""Request and response bodies of /api/v1/instances/{id}/credentials (endpoints.py):
an instance's extra credentials, one more database user each. A list never carries a
password; one credential's view does, in `connection`, once it is active."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from ..engines import TlsDetails
from ..web.contract import Out
from ..web.schemas import Body

# pydantic's pattern runs on Rust's regex (linear; `$` is the very end); the service
# (service.py) checks the same rule again with re.fullmatch.
CREDENTIAL_NAME_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
CredentialStatus = Literal["creating", "active", "deleting", "failed"]


class CreateCredentialRequest(Body):
    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=CREDENTIAL_NAME_PATTERN,
        description="your name for it: 1-64 letters, digits, '.', '_' or '-' (a service broker's binding id)",
        examples=["ci-reader"],
    )


class CredentialConnection(Out):
    uri: str = Field(examples=["redis://b_k2j4m9x0q1w3:...@127.0.0.1:20002/0"])
    host: str
    port: int
    username: str
    password: str
    database: str | None = Field(description="the instance's database (mysql); null for redis")
    tls: TlsDetails = Field(description="how to verify the server, as the instance's connection says")


class Credential(Out):
    id: str = Field(examples=["cr-7f3k2q9x0a1b"])
    instance_id: str
    name: str
    username: str = Field(description="the server's user, made by dbvend (never your name)")
    status: CredentialStatus
    operation_id: str = Field(description="the last bind or unbind operation (GET /operations/{id})")
    created_at: datetime
    error: str | None


class CredentialDetail(Credential):
    connection: CredentialConnection | None = Field(description="with the password; null unless active")


class CredentialList(Out):
    items: list[Credential]
