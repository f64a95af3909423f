"""The server's outer wall: what every request must be and what every response carries.

An ASGI middleware in front of Gradio, because Gradio's own routes (uploads, ``file=``)
are more open than a health page may be:

- the Host header must name this server (``web.allowed_hosts``; DNS rebinding);
- a header block larger than ``web.max_header_bytes`` is refused (431);
- uploads are refused (403): the page takes typed questions only, and an upload would leave
  a patient's file in a temporary folder;
- ``file=`` with a URL is refused (403) before Gradio could connect anywhere;
- every response carries a Content-Security-Policy whose ``frame-ancestors`` lists the sites
  the clinic allows to embed the chat (``web.embed_origins``), ``X-Content-Type-Options:
  nosniff`` and ``Referrer-Policy: no-referrer``.

Refusals are JSON with a stable ``error.code`` and hold nothing from the request; nothing
is logged, so no question or address reaches a log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from ketabot.config import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_UPLOAD = re.compile(r"/(?:gradio_api/)?upload/?$")
_FILE_URL = re.compile(r"/file=\s*(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """The headers every response carries, with the clinic's embedding sites."""
    ancestors = " ".join(["'self'", *settings.web.embed_origins])
    policy = f"frame-ancestors {ancestors}; object-src 'none'; base-uri 'self'; form-action 'self'"
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """Host names (without port) the server answers to."""
    hosts = settings.web.allowed_hosts or [*LOOPBACK, settings.web.host]
    return frozenset(h.lower() for h in hosts)


class Guard:
    """ASGI middleware applying the module's rules to every HTTP request."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = security_headers(settings)
        self.hosts = allowed_hosts(settings)
        self.max_header_bytes = settings.web.max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what must not reach Gradio; add the security headers to everything else."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            status, code = refusal
            await _json_error(send, status, code, self.headers)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)

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
        return None


def _host(headers: list[tuple[bytes, bytes]]) -> str:
    value = next((v.decode("latin-1") for n, v in headers if n.lower() == b"host"), "")
    if value.startswith("["):  # [::1]:7860
        return value[: value.find("]") + 1].lower()
    return value.rsplit(":", 1)[0].lower() if value.count(":") == 1 else value.lower()


async def _json_error(
    send: Send, status: int, code: str, headers: list[tuple[bytes, bytes]]
) -> None:
    body = json.dumps({"error": {"code": code}}).encode()
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
