"""The HTTP side: one httpx client per command, JSON in and out, the bearer token sent only
to the server it was issued by, and every failure turned into a CliError."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from .errors import ApiFailure, CliError, NetworkFailure

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def normalize_url(raw: str) -> str:
    """http(s)://host[:port][/prefix], without a trailing slash; anything else is refused
    before a request (and a token) goes anywhere."""
    raw = raw.strip()
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise CliError(f"not a URL: {raw!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"the server URL must be http:// or https:// with a host, got {raw!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise CliError("the server URL takes no user, password, query or fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def is_plain_http_remote(url: str) -> bool:
    """True when a password would cross the network unencrypted."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme == "http" and not (host == "localhost" or host.startswith("127.") or host == "::1")


class Api:
    def __init__(self, url: str, token: str | None, *, no_token_hint: str | None = None) -> None:
        self.url = url
        self.token = token
        self.no_token_hint = no_token_hint or "run `dbvend login` (or set DBVEND_TOKEN)"
        headers = {"Accept": "application/json", "User-Agent": "dbvend-cli"}
        # Redirects are not followed: a redirect elsewhere would carry the token with it.
        self._http = httpx.Client(
            base_url=f"{url}/api/v1", headers=headers, timeout=TIMEOUT, follow_redirects=False
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
    ) -> tuple[int, Any]:
        """(status, decoded JSON or None) of a 2xx answer; ApiFailure for any other."""
        headers = {}
        if auth:
            if not self.token:
                raise CliError(f"not logged in to {self.url}", hints=[self.no_token_hint])
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.TimeoutException:
            raise NetworkFailure(f"{self.url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise NetworkFailure(f"cannot reach dbvend at {self.url}: {_reason(exc)}") from None
        body = _decode(response)
        if 200 <= response.status_code < 300:
            return response.status_code, body
        if 300 <= response.status_code < 400:
            raise CliError(
                f"{self.url} redirects to {response.headers.get('Location', '?')}; give that URL instead"
            )
        raise ApiFailure(response.status_code, body)

    def text(self, path: str) -> str:
        """A public text document (the CA bundle): no token sent, 2xx or NetworkFailure/ApiFailure."""
        try:
            response = self._http.get(path, headers={"Accept": "*/*"})
        except httpx.HTTPError as exc:
            raise NetworkFailure(f"cannot reach dbvend at {self.url}: {_reason(exc)}") from None
        if not 200 <= response.status_code < 300:
            raise ApiFailure(response.status_code, _decode(response))
        return response.text

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})[1]

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paged list (`items` + `next_cursor`)."""
        cursor = None
        while True:
            page = self.get(path, limit=200, cursor=cursor, **params)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return


def _decode(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    if response.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
        if 200 <= response.status_code < 300:
            raise CliError(f"the server answered HTTP {response.status_code} with something other than JSON")
        return None
    try:
        return response.json()
    except ValueError:
        raise CliError(f"the server answered HTTP {response.status_code} with broken JSON") from None


def _reason(exc: httpx.HTTPError) -> str:
    text = str(exc)
    cause = exc.__cause__ or exc.__context__
    while cause is not None and not text:
        text = str(cause)
        cause = cause.__cause__ or cause.__context__
    return text or type(exc).__name__
