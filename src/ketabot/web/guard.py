"""The server's outer wall: what every request must be and what every response carries.

An ASGI middleware in front of Gradio, because Gradio's own routes (uploads, ``file=``)
are more open than a health page may be:

- the Host header must name this server (``web.allowed_hosts``; DNS rebinding);
- a header block larger than ``web.max_header_bytes`` is refused (431);
- uploads are refused (403): the page takes typed questions only, and an upload would leave
  a patient's file in a temporary folder;
- ``file=`` with a URL is refused (403) before Gradio could connect anywhere;
- Gradio's route listings (``openapi.json``) are not served: the page needs none of them;
  the JSON API's own schema (``/api/v1/openapi.json``) is;
- a call to the JSON API is read first too, and refused (413) past ``web.max_body_bytes``;
- a call to an event route is read and checked first (:mod:`ketabot.web.calls`): a
  malformed one is refused (4xx) before Gradio could print it with its inputs;
- calls answered outside the queue are bounded (``web.direct_limit`` at once, for the API
  and for the page each); above it the API's question still goes through the emergency
  check, in a lane of its own, and anything else is told to retry (503, ``Retry-After``);
  a client over its fair-use limit (``api.requests_per_minute``) is treated the same way,
  with 429;
- cross-origin calls (the web component, the JSON API) are allowed from the clinic's
  ``web.embed_origins`` only (:func:`cors`); Gradio's own CORS rule would allow any
  site once the server has a public name;
- every response carries a Content-Security-Policy whose ``frame-ancestors`` lists the sites
  the clinic allows to embed the chat (``web.embed_origins``), ``X-Content-Type-Options:
  nosniff`` and ``Referrer-Policy: no-referrer``;
- anything that still fails inside becomes a JSON 500 and one log line naming the
  exception's type, never a traceback holding the request.

Refusals are JSON with a stable ``error.code`` and hold nothing from the request; nothing
from a request is logged, so no question or address reaches a log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import unquote

import anyio
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from ketabot.config import Settings
from ketabot.metrics import Metrics
from ketabot.web.api import PREFIX
from ketabot.web.calls import ASK, BadCall, Call, Endpoints, runs_event
from ketabot.web.limits import RateLimit

log = logging.getLogger("ketabot")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_UPLOAD = re.compile(r"/(?:gradio_api/)?upload/?$")
_FILE_URL = re.compile(r"/file=\s*(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)
_LISTING = re.compile(r"/(?:openapi\.json|docs|redoc)/?$")
# What each refusal says to a developer: never anything from the request.
MESSAGES = {
    "headers_too_large": "The request's headers are too large.",
    "unknown_host": "This server does not answer to that host name.",
    "uploads_disabled": "Uploads are not accepted.",
    "remote_files_disabled": "Remote files are not fetched.",
    "not_found": "No such route.",
    "invalid_json": "The body is not valid JSON.",
    "invalid_request": "The body must be a JSON object.",
    "unknown_endpoint": "No such endpoint.",
    "wrong_number_of_inputs": "The call has the wrong number of inputs.",
    "question_not_text": "question must be a string.",
    "history_not_a_list": "history must be a list.",
    "request_too_large": "The body is too large.",
    "incomplete_request": "The body did not arrive in full.",
    "busy": "Too many questions are waiting; retry shortly.",
    "rate_limited": "Too many questions from this client; retry later.",
    "internal_error": "Something failed inside the server.",
}

# An emergency check takes 20-30 ms, so 64 waiting is about two seconds' wait.
LANE_WAITING = 64
# The emergency check of an API question that arrived above the bound: its reply, or None.
Urgent = Callable[[str, list[Any]], Mapping[str, Any] | None]


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """The headers every response carries, with the clinic's embedding sites."""
    ancestors = " ".join(["'self'", *settings.web.embed_origins])
    policy = f"frame-ancestors {ancestors}; object-src 'none'; base-uri 'self'; form-action 'self'"
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]


def cors(settings: Settings) -> Middleware:
    """Cross-origin requests from the clinic's embedding sites only, without credentials.

    Given to Gradio as the app's own CORS middleware, which makes Gradio's step aside.
    """
    return Middleware(
        CORSMiddleware,
        allow_origin_regex=origin_pattern(settings.web.embed_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
        max_age=600,
    )


def origin_pattern(origins: Sequence[str]) -> str | None:
    """A regular expression matching exactly the configured origins (``*`` as the config says).

    ``https://*.clinic.example`` matches any subdomain; ``http://127.0.0.1:*`` any port.
    No origins: ``None``, and no other site's page may call the API from a browser.
    """
    if not origins:
        return None
    return "|".join(_one_origin(origin) for origin in origins)


def _one_origin(origin: str) -> str:
    scheme, _, rest = origin.partition("://")
    host, _, port = rest.partition(":")
    wildcard = host.startswith("*.")
    host_pattern = re.escape(host[2:] if wildcard else host)
    if wildcard:
        host_pattern = r"(?:[A-Za-z0-9-]+\.)+" + host_pattern
    port_pattern = "" if not port else (r":[0-9]{1,5}" if port == "*" else ":" + re.escape(port))
    return f"{re.escape(scheme)}://{host_pattern}{port_pattern}"


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """Host names (without port) the server answers to."""
    hosts = settings.web.allowed_hosts or [*LOOPBACK, settings.web.host]
    return frozenset(h.lower() for h in hosts)


class Guard:
    """ASGI middleware applying the module's rules to every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        endpoints: Endpoints | None = None,
        urgent: Urgent | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.app = app
        self.headers = security_headers(settings)
        self.hosts = allowed_hosts(settings)
        self.max_header_bytes = settings.web.max_header_bytes
        self.max_body_bytes = settings.web.max_body_bytes
        self.endpoints = endpoints
        self.urgent = urgent
        self.limit = settings.web.direct_limit
        self.in_flight = {"api": 0, "page": 0}
        self.metrics = metrics
        self.limit_per_client = RateLimit(settings.api.requests_per_minute, settings.api.burst)
        # Its own threads: the emergency check must not wait for the pool the answers fill.
        self.lane = anyio.CapacityLimiter(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what must not reach Gradio; add the security headers to everything else."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            await self.error(send, *refusal)
            return
        path = unquote(scope.get("path", ""))
        if scope.get("method") == "POST" and path.startswith(PREFIX + "/"):
            await self.forward_read(scope, receive, send)
            return
        if self.endpoints is None or not runs_event(scope.get("method", ""), path):
            await self.forward(scope, receive, send)
            return
        try:
            call = self.endpoints.check(path, await _body(receive, self.max_body_bytes))
        except BadCall as bad:
            await self.error(send, bad.status, bad.code)
            return
        await self.run(call, _with_body(scope, call.body), _replay(call.body, receive), send)

    async def forward_read(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A call to the JSON API: its body read within the limit, then passed on."""
        try:
            body = await _body(receive, self.max_body_bytes)
        except BadCall as bad:
            await self.error(send, bad.status, bad.code)
            return
        await self.forward(_with_body(scope, body), _replay(body, receive), send)

    async def run(self, call: Call, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward a checked call; one answered outside the queue only within the bound."""
        if not call.direct:
            await self.forward(scope, receive, send)
            return
        lane = "api" if call.endpoint.public else "page"
        started = time.perf_counter()
        status = await self.run_direct(call, lane, scope, receive, send)
        if self.metrics is not None and lane == "api" and call.endpoint.name == ASK:
            self.metrics.request("gradio", status, time.perf_counter() - started)

    async def run_direct(
        self, call: Call, lane: str, scope: Scope, receive: Receive, send: Send
    ) -> int:
        """Forward within the bound and the client's fair use; returns the status sent."""
        wait = None
        if lane == "api":
            wait = self.limit_per_client.retry_after(_client(scope))
        if wait is not None:
            if self.metrics is not None:
                self.metrics.rate_limited.inc()
            return await self.overflow(call, send, 429, "rate_limited", wait)
        if self.in_flight[lane] >= self.limit:
            return await self.overflow(call, send, 503, "busy", 1)
        self.in_flight[lane] += 1
        try:
            return await self.forward(scope, receive, send)
        finally:
            self.in_flight[lane] -= 1

    async def overflow(self, call: Call, send: Send, status: int, code: str, wait: int) -> int:
        """Turned away: an API emergency still gets its reply; the rest, ``status``."""
        reply = None
        if self.urgent is not None and call.endpoint.name == ASK and not self.lane_full():
            reply = await anyio.to_thread.run_sync(
                self.urgent, call.data[0], call.data[1] or [], limiter=self.lane
            )
        if reply is None:
            await self.error(send, status, code, [(b"retry-after", str(wait).encode())])
            return status
        await _json(send, 200, {"data": [reply]}, self.headers)
        return 200

    def lane_full(self) -> bool:
        """Whether so many checks wait that one more would wait seconds: then, 503 too."""
        return self.lane.statistics().tasks_waiting >= LANE_WAITING

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Pass on, adding the security headers; a failure inside becomes a JSON 500.

        Returns the status sent.
        """
        started = False
        status = 500

        async def with_headers(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = int(message.get("status", 200))
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception as exc:  # the edge: one line without the request, and a clear 500
            log.error("request failed inside the web framework: %s", type(exc).__name__)
            if not started:
                await self.error(send, 500, "internal_error")
            else:  # end the response already under way rather than leave it open
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        return status

    async def error(
        self, send: Send, status: int, code: str, extra: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        """A JSON refusal with a stable code and nothing from the request."""
        payload = {"error": {"code": code, "message": MESSAGES.get(code, "Refused.")}}
        await _json(send, status, payload, [*self.headers, *extra])

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """``(status, error code)`` when the request must not reach Gradio, else ``None``."""
        headers = scope.get("headers", [])
        if sum(len(n) + len(v) for n, v in headers) > self.max_header_bytes:
            return 431, "headers_too_large"
        host = _host(headers)
        if "*" not in self.hosts and host not in self.hosts:
            return 400, "unknown_host"
        path = unquote(scope.get("path", ""))
        if scope.get("method") == "POST" and _UPLOAD.search(path):
            return 403, "uploads_disabled"
        if _FILE_URL.search(path):
            return 403, "remote_files_disabled"
        if _LISTING.search(path) and not path.startswith(PREFIX + "/"):
            return 404, "not_found"
        return None


async def _body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refused (413) as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadCall(400, "incomplete_request")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BadCall(413, "request_too_large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _with_body(scope: Scope, body: bytes) -> Scope:
    """``scope`` with its content length set to the (possibly completed) body's."""
    headers = [(n, v) for n, v in scope.get("headers", []) if n.lower() != b"content-length"]
    return {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the client sends next."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _host(headers: list[tuple[bytes, bytes]]) -> str:
    value = next((v.decode("latin-1") for n, v in headers if n.lower() == b"host"), "")
    if value.startswith("["):  # [::1]:7860
        return value[: value.find("]") + 1].lower()
    return value.rsplit(":", 1)[0].lower() if value.count(":") == 1 else value.lower()


async def _json(
    send: Send, status: int, payload: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
