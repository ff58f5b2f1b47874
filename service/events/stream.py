"""GET /api/v1/events/stream: the caller's instance events and alerts as they happen, as a
WebSocket (aiohttp's own) or, with `Accept: text/event-stream`, as Server-Sent Events.

A WebSocket is authenticated by the bearer token in the Authorization header, or (browsers
cannot set headers on one) by a first message `{"token": "..."}` within AUTH_SECONDS. Both
send a heartbeat every DBVEND_STREAM_HEARTBEAT seconds, when the token is checked again: a
revoked or expired token ends the stream. SSE resumes from the outbox after Last-Event-ID
(at most REPLAY_LIMIT events). A user may hold DBVEND_STREAM_LIMIT streams per process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from ..db.users import User
from ..errors import BadRequest, FieldError, Invalid
from ..web.contract import contract
from ..web.errors import REQUEST_ID
from ..web.identity import USER, bearer_token, owner_filter, token_in_first_message
from ..web.notes import AUTH_FAILURE, LONG_LIVED, AuthFailure
from .endpoints import SERVICE
from .hub import EventHub, Subscriber, TooManyStreams
from .service import EventService

routes = web.RouteTableDef()

HUB = web.AppKey("event_hub", EventHub)
AUTH_SECONDS = 5.0
REPLAY_LIMIT = 1000
MAX_FIRST_MESSAGE = 1024
SEND_SECONDS = 10.0  # a client that takes longer to take one message is cut off
_LAST_EVENT_ID = re.compile(r"[0-9]{1,18}")
# Application close codes (4000-4999): 4401 unauthorized, 4429 too many streams.
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_MANY = 4429


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _wants_sse(request: web.Request) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


@routes.get("/api/v1/events/stream")
@contract(
    "Your instance events and alerts as they happen: a WebSocket, or Server-Sent Events",
    description="WebSocket: send the upgrade with `Authorization: Bearer <token>`, or without it and "
    'then, within 5 s, a first message `{"token": "<token>"}` (browsers cannot set headers on a '
    'WebSocket). The server answers `{"type": "ready"}` and then one JSON message per instance '
    'event (`{"id", "type": "instance.running", "instance_id", "status", "at", "operation_id"}`) or '
    'alert change (`{"type": "alert", "id", "rule", "status", "severity", "instance_id", '
    '"fingerprint", "at"}`), with a ping and `{"type": "heartbeat"}` every DBVEND_STREAM_HEARTBEAT '
    "seconds. It closes with 4401 for a missing, invalid, expired or revoked token, 4429 past "
    "DBVEND_STREAM_LIMIT open streams, 1008 for a client too slow to read. With `Accept: "
    "text/event-stream` the same events come as SSE (`id:` for instance events, `event:` the type, "
    "`data:` the JSON), heartbeats as comments; `Last-Event-ID` replays the instance events after "
    "it (at most 1000). A user sees the events and alerts of the user's own instances, an admin all.",
    responses={200: None},
    raw={200: "text/event-stream"},
    errors=(400, 401, 422, 429),
    tags=("monitoring",),
)
@token_in_first_message
async def stream(request: web.Request) -> web.StreamResponse:
    request[LONG_LIVED] = True
    ws = web.WebSocketResponse(max_msg_size=MAX_FIRST_MESSAGE, autoping=True)
    if ws.can_prepare(request).ok:
        return await _websocket(request, ws)
    if _wants_sse(request):
        return await _sse(request)
    raise BadRequest("ask for a WebSocket upgrade or send Accept: text/event-stream")


def events(request: web.Request) -> EventService:
    return request.app[SERVICE]


async def _still_valid(request: web.Request, token: str) -> bool:
    return await events(request).still_valid(token)


# -- WebSocket ---------------------------------------------------------------------------
async def _first_message_user(request: web.Request, ws: web.WebSocketResponse) -> tuple[User, str] | None:
    try:
        msg = await ws.receive(timeout=AUTH_SECONDS)
    except TimeoutError:
        await ws.close(code=CLOSE_UNAUTHORIZED, message=b"no token within 5 s")
        return None
    token: Any = None
    if msg.type is WSMsgType.TEXT and len(msg.data) <= MAX_FIRST_MESSAGE:
        with contextlib.suppress(ValueError):
            body = json.loads(msg.data)
            if isinstance(body, dict) and set(body) == {"token"}:
                token = body["token"]
    if not isinstance(token, str):
        await ws.close(code=CLOSE_UNAUTHORIZED, message=b'send {"token": "..."} first')
        return None
    found = await events(request).authenticate(token)
    user = found.user
    if user is None:
        request[AUTH_FAILURE] = AuthFailure(found.failure or "invalid or expired token")
        await ws.close(code=CLOSE_UNAUTHORIZED, message=b"the token is invalid or expired")
        return None
    return user, token


async def _websocket(request: web.Request, ws: web.WebSocketResponse) -> web.WebSocketResponse:
    svc = events(request)
    limit = svc.ctx.settings.stream_limit
    sub: Subscriber | None = None
    user = request.get(USER)
    token = bearer_token(request)
    if user is not None:
        sub = svc.subscribe(user)  # refused before the upgrade: a plain 429 (TooManyStreams)
    ws.headers["X-Request-Id"] = request[REQUEST_ID]
    try:
        await ws.prepare(request)
        if sub is None:
            found = await _first_message_user(request, ws)
            if found is None:
                return ws
            user, token = found
            try:
                sub = svc.subscribe(user)
            except TooManyStreams:
                await ws.close(code=CLOSE_TOO_MANY, message=f"at most {limit} open streams".encode())
                return ws
        assert user is not None
        await ws.send_json({"type": "ready", "user": user.username, "at": _now()})
        await _pump_ws(request, ws, sub, token)
    finally:
        if sub is not None:
            svc.unsubscribe(sub)
    return ws


async def _drain(ws: web.WebSocketResponse) -> None:
    """Reads (and ignores) what the client sends, so pings and its close are handled."""
    async for _msg in ws:
        pass


async def _pump_ws(request: web.Request, ws: web.WebSocketResponse, sub: Subscriber, token: str) -> None:
    heartbeat = events(request).ctx.settings.stream_heartbeat
    reader = asyncio.create_task(_drain(ws))
    try:
        while not ws.closed:
            getter = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait(
                {getter, reader}, timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED
            )
            if getter not in done:
                getter.cancel()
                if reader in done:
                    return  # the client closed
                if not await _still_valid(request, token):
                    await ws.close(code=CLOSE_UNAUTHORIZED, message=b"the token expired or was revoked")
                    return
                await ws.ping()
                await asyncio.wait_for(ws.send_json({"type": "heartbeat", "at": _now()}), SEND_SECONDS)
                continue
            item = getter.result()
            if item is None:
                await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"too slow: events were not read")
                return
            await asyncio.wait_for(ws.send_json(item), SEND_SECONDS)
    except (TimeoutError, ConnectionError):
        if request.transport is not None:
            request.transport.abort()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


# -- Server-Sent Events ------------------------------------------------------------------
def _last_event_id(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID")
    if raw is None or raw == "":
        return None
    if not _LAST_EVENT_ID.fullmatch(raw):
        raise Invalid([FieldError("Last-Event-ID", "must be an event id (digits) this stream sent")])
    return int(raw)


def _frame(item: dict[str, Any]) -> bytes:
    data = json.dumps(item, separators=(",", ":"))
    head = f"id: {item['id']}\n" if str(item.get("type", "")).startswith("instance.") else ""
    return f"{head}event: {item.get('type', 'message')}\ndata: {data}\n\n".encode()


def _error(reason: str) -> bytes:
    return f"event: error\ndata: {json.dumps({'reason': reason})}\n\n".encode()


async def _sse(request: web.Request) -> web.StreamResponse:
    svc = events(request)
    user: User = request[USER]  # the middleware required the header: SSE clients can send it
    token = bearer_token(request)
    after = _last_event_id(request)
    sub = svc.subscribe(user)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
            "X-Request-Id": request[REQUEST_ID],
        }
    )
    try:
        await response.prepare(request)
        await response.write(b"retry: 3000\n\n")
        replayed: set[int] = set()
        if after is not None:
            # Subscribed first, replayed second: nothing committed in between is missed.
            missed = await svc.since(after, owner_filter(user), REPLAY_LIMIT)
            for event in missed:
                replayed.add(int(event["id"]))
                await response.write(_frame(event))
            if len(missed) == REPLAY_LIMIT:
                await response.write(b": replay truncated; GET /api/v1/instances for the current state\n\n")
        await _pump_sse(request, response, sub, token, replayed)
    except (ConnectionError, TimeoutError):
        pass
    finally:
        svc.unsubscribe(sub)
    return response


async def _pump_sse(
    request: web.Request, response: web.StreamResponse, sub: Subscriber, token: str, replayed: set[int]
) -> None:
    heartbeat = events(request).ctx.settings.stream_heartbeat
    while request.transport is not None and not request.transport.is_closing():
        try:
            item = await asyncio.wait_for(sub.queue.get(), heartbeat)
        except TimeoutError:
            if not await _still_valid(request, token):
                await response.write(_error("the token expired or was revoked"))
                return
            await asyncio.wait_for(response.write(f": heartbeat {_now()}\n\n".encode()), SEND_SECONDS)
            continue
        if item is None:
            await response.write(_error("too slow: events were not read"))
            return
        if item.get("type", "").startswith("instance.") and int(item["id"]) in replayed:
            continue
        await asyncio.wait_for(response.write(_frame(item)), SEND_SECONDS)
