"""/console: the web console, a single page built from console/src into console/dist (committed,
so the service needs no node). It talks to the public /api/v1 only, like any other client.

The files are read once at start into a fixed table: a request can only name one of them, so
no path from the URL ever reaches the file system. Every answer carries a strict CSP (no
inline script or style, no eval, connections to this origin only) and no-referrer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from ..errors import NotFound
from .contract import contract

routes = web.RouteTableDef()

DIST = Path(__file__).resolve().parent.parent.parent / "console" / "dist"
# What the build makes (and the contract names); any other file of dist/ is not served.
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".txt": "text/plain"}
FILES = web.AppKey("console_files", dict)

# A Host header the CSP may name (a name or an address, with a port); anything else gets
# 'self' only, which CSP 3 browsers also match to ws:/wss: of this origin.
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_OTHER_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def security_headers(host: str) -> dict[str, str]:
    """No inline script or style, no eval, no framing; connections to this origin only (the
    event stream's WebSocket named explicitly for browsers older than CSP 3)."""
    connect = "'self'"
    if _HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    return {"Content-Security-Policy": _POLICY.format(connect=connect), **_OTHER_HEADERS}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


def load(dist: Path = DIST) -> dict[str, Asset]:
    """Every file under dist/, by its path relative to it (empty when the console is not built)."""
    found: dict[str, Asset] = {}
    if not dist.is_dir():
        return found
    for path in sorted(dist.rglob("*")):
        kind = TYPES.get(path.suffix)
        if path.is_file() and kind is not None:
            found[path.relative_to(dist).as_posix()] = Asset(path.read_bytes(), kind)
    return found


def _answer(request: web.Request, name: str) -> web.Response:
    asset = request.app[FILES].get(name)
    if asset is None:
        raise NotFound()
    return web.Response(
        body=asset.body,
        content_type=asset.content_type,
        charset="utf-8",
        # Names are not content-hashed: revalidate each time (the files are small).
        headers={**security_headers(request.host), "Cache-Control": "no-cache"},
    )


@routes.get("/console")
@contract(
    "The web console (a single page on this API)", responses={200: None}, public=True, raw={200: "text/html"}
)
async def index(request: web.Request) -> web.Response:
    return _answer(request, "index.html")


@routes.get("/console/")
@contract(
    "The web console (a single page on this API)", responses={200: None}, public=True, raw={200: "text/html"}
)
async def index_slash(request: web.Request) -> web.Response:
    return _answer(request, "index.html")


@routes.get("/console/assets/{name}")
@contract(
    "The console's scripts and style sheets",
    path={"name": "a file of the built console"},
    responses={200: None},
    public=True,
    raw={200: "text/javascript, text/css"},
)
async def asset(request: web.Request) -> web.Response:
    return _answer(request, "assets/" + request.match_info["name"])


def install(app: web.Application) -> None:
    app[FILES] = load()
