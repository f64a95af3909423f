"""Routes for whoever runs the server: ``/healthz``, ``/readyz`` and ``/metrics``.

- ``/healthz``: the process answers (for load balancers, and for the page to tell
  "offline" from "slow");
- ``/readyz``: the model is loaded and the index is open and readable, with the
  generation being read; 503 otherwise, so a proxy sends questions elsewhere;
- ``/metrics``: :mod:`ketabot.metrics` in Prometheus' text format.

None of them reads or returns anything about a request.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ketabot.bot import Bot
from ketabot.index import Pointer
from ketabot.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger("ketabot")

HEALTH = "/healthz"
READY = "/readyz"
METRICS = "/metrics"
_NO_STORE = {"Cache-Control": "no-store"}


def routes(bot: Bot, metrics: Metrics) -> list[Route]:
    """The three routes, for the page's server (out of any API schema)."""

    async def alive(request: Request) -> Response:
        return _json(200, {"status": "ok"})

    async def ready(request: Request) -> Response:
        try:
            pointer = await _pointer(bot, metrics)
        except Exception as exc:  # the edge: an unreachable index is "not ready", said once
            log.warning("readiness check: the index cannot be read (%s)", type(exc).__name__)
            return _json(503, {"status": "index_unreachable"})
        reading = bot.generation()
        if pointer is None or reading is None:
            return _json(503, {"status": "index_not_open"})
        state = {"generation": reading, "active": pointer.active, "model": bot.embedder.name}
        return _json(200, {"status": "ready", **state})

    async def scrape(request: Request) -> Response:
        try:
            await _pointer(bot, metrics)
        except Exception as exc:  # the edge: the counters are still worth reading
            log.warning("metrics: the index cannot be read (%s)", type(exc).__name__)
        body = await anyio.to_thread.run_sync(metrics.render)
        return Response(body, media_type=CONTENT_TYPE, headers=_NO_STORE)

    pairs = ((HEALTH, alive), (READY, ready), (METRICS, scrape))
    return [Route(path, endpoint, methods=["GET"]) for path, endpoint in pairs]


async def _pointer(bot: Bot, metrics: Metrics) -> Pointer | None:
    """The index's pointer, read now; the metrics learn the generation being read."""
    pointer = await anyio.to_thread.run_sync(bot.index.pointer)
    reading = bot.generation()
    same = pointer is not None and pointer.active == reading
    metrics.index(reading, pointer.ingest_seconds if same and pointer else None)
    return pointer


def _json(status: int, payload: dict[str, Any]) -> Response:
    return Response(
        json.dumps(payload), status_code=status, media_type="application/json", headers=_NO_STORE
    )
