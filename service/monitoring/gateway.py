"""The gateway collector: an aiohttp middleware that counts every request by route
template, method and status with its latency (Prometheus, per-app registry), and records
the requests worth an event: server errors, authentication failures, slow requests and
rejected validations. Events carry no body and no header (only the user name tried at a
login), so no secret reaches the store."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram

from ..db.events import Event
from ..web.notes import AUTH_FAILURE, ERROR_TYPE, LONG_LIVED, REJECTED_FIELDS
from .recorder import EventRecorder

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# Up to the longest ?wait= a client may ask for.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    if resource is None or request.match_info.http_exception is not None:
        return UNMATCHED
    return resource.canonical


class Gateway:
    """Metrics in a registry of its own (several apps may live in one process) and the
    event recorder, shared by the middleware and the /metrics handler."""

    def __init__(self, recorder: EventRecorder, *, slow_seconds: float) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.recorder = recorder
        self.slow_seconds = slow_seconds
        self.requests = Counter(
            "dbvend_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.latency = Histogram(
            "dbvend_http_request_duration_seconds",
            "Time to answer HTTP requests, by route template and method.",
            ["route", "method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )

    def observe(self, request: web.Request, status: int, seconds: float, request_id: str = "") -> None:
        route = route_template(request)
        # The rest (WebDAV's methods, which the parser lets through) share one label.
        method = request.method if request.method in _METHODS else "other"
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:  # once per route, method and status: labels() is a slow lookup
            children = self._children[key] = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
        children[0].inc()
        children[1].observe(seconds)
        if request.path != "/metrics":
            self.recorder.count_request(server_error=status >= 500)
        if status < 400 and seconds <= self.slow_seconds and AUTH_FAILURE not in request:
            return  # the common case: nothing worth an event
        for event in self.events_for(request, route, status, seconds, request_id):
            self.recorder.record(event)

    def events_for(
        self, request: web.Request, route: str, status: int, seconds: float, request_id: str
    ) -> list[Event]:
        where = f"{request.method} {route}"
        base = {"method": request.method, "route": route, "status": status, "request_id": request_id}
        events: list[Event] = []
        # Only a request that succeeded proves the caller may see the instance: the event then
        # shows up in the owner's GET /events. A rejected one names no instance.
        instance_id = None
        if route.startswith("/api/v1/instances/") and status < 400:
            instance_id = request.match_info.get("id")
        if status >= 500:
            error_type = request.get(ERROR_TYPE) or f"http_{status}"
            events.append(
                Event(
                    kind="server_error",
                    severity="critical",
                    source="gateway",
                    subject=route,
                    message=f"{where} answered {status} ({error_type}); request {request_id}",
                    details={**base, "error_type": error_type},
                )
            )
        failure = request.get(AUTH_FAILURE)
        if failure is not None:
            client = request.remote or "unknown"
            tried = f" for user {failure.username!r}" if failure.username is not None else ""
            events.append(
                Event(
                    kind="auth_failure",
                    severity="warning",
                    source="gateway",
                    subject=client,
                    message=f"authentication failed{tried} from {client}: {failure.reason}",
                    details={
                        **base,
                        "client": client,
                        "username": failure.username,
                        "reason": failure.reason,
                    },
                )
            )
        if status == 422:
            fields = [str(f) for f in request.get(REJECTED_FIELDS, [])][:50]
            events.append(
                Event(
                    kind="validation_rejected",
                    source="gateway",
                    subject=route,
                    instance_id=instance_id,
                    message=f"{where} rejected: invalid {', '.join(fields) or 'request'}",
                    details={**base, "fields": fields},
                )
            )
        if seconds > self.slow_seconds and "wait" not in request.query and not request.get(LONG_LIVED):
            events.append(
                Event(
                    kind="slow_request",
                    severity="warning",
                    source="gateway",
                    subject=route,
                    instance_id=instance_id,
                    message=f"{where} took {seconds:.2f} s (budget {self.slow_seconds:g} s)",
                    details={**base, "seconds": round(seconds, 3), "budget": self.slow_seconds},
                )
            )
        return events

    def middleware(self) -> Middleware:
        @web.middleware
        async def gateway_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            start = time.perf_counter()
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # a redirect or an error raised past the error middleware
                self._observe_safely(request, exc.status, time.perf_counter() - start)
                raise
            except BaseException:
                self._observe_safely(request, 499, time.perf_counter() - start)  # client went away
                raise
            # The error middleware inside has put the request id on every response.
            request_id = response.headers.get("X-Request-Id", "")
            self._observe_safely(request, response.status, time.perf_counter() - start, request_id)
            return response

        return gateway_middleware

    def _observe_safely(
        self, request: web.Request, status: int, seconds: float, request_id: str = ""
    ) -> None:
        try:
            self.observe(request, status, seconds, request_id)
        except Exception:  # counting must never break a request
            log.exception("gateway collector failed on %s %s", request.method, request.path)


GATEWAY = web.AppKey("gateway", Gateway)
