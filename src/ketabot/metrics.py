"""What a running server counts, for Prometheus (``GET /metrics``): shapes, never contents.

Replies by kind and reason, seconds per stage and end to end, HTTP requests by route and
status, questions waiting, the index generation being read and how long its ingest took.
No label ever holds a question, a client address or anything else that tells patients
apart: every label value comes from a fixed vocabulary (a reply kind, a reason, a stage,
a route, a status code) or from the index (its generation id).

Each server has its own registry, so two apps in one process never mix their counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from ketabot.timing import STAGES
from ketabot.types import Reply

CONTENT_TYPE = CONTENT_TYPE_LATEST
# A "_created" timestamp per series doubles the page for nothing a dashboard reads.
disable_created_metrics()
# A warm stage takes 0.1-30 ms and a reply 5-60 ms; a busy server's reply waits seconds.
_STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_REPLY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Routes are named by what they are, so an unknown path never becomes a label value.
ROUTES = ("api", "gradio", "page")


class Metrics:
    """One server's counters; a :class:`~ketabot.bot.Observer` of its bot."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.replies = Counter(
            "ketabot_replies",
            "Replies given, by kind and reason (the JSON contract's values).",
            ["kind", "reason"],
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "ketabot_stage_seconds",
            "Seconds spent in one stage of answering a question.",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=self.registry,
        )
        self.reply_seconds = Histogram(
            "ketabot_reply_seconds",
            "Seconds from a question reaching the bot to its reply.",
            buckets=_REPLY_BUCKETS,
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "ketabot_http_request_seconds",
            "Seconds from a question's HTTP request arriving to its response, by route.",
            ["route"],
            buckets=_REPLY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "ketabot_http_requests",
            "Question requests answered, by route and HTTP status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "ketabot_rate_limited",
            "Questions refused (429) because one client asked too many.",
            registry=self.registry,
        )
        self.waiting = Gauge(
            "ketabot_queue_depth",
            "Questions waiting for a worker, by route.",
            ["route"],
            registry=self.registry,
        )
        self.generation = Gauge(
            "ketabot_index_generation",
            "1 for the index generation being read (its id is the label).",
            ["generation"],
            registry=self.registry,
        )
        self.ingest_seconds = Gauge(
            "ketabot_index_ingest_seconds",
            "How long the ingest that built the generation being read took.",
            registry=self.registry,
        )
        for stage_name in STAGES:  # every stage listed from the start, at zero
            self.stage_seconds.labels(stage_name)
        self._generation = ""

    # ---- the bot's observer

    def stages(self, seconds: Mapping[str, float]) -> None:
        """Seconds per stage of one step of one question."""
        for name, spent in seconds.items():
            self.stage_seconds.labels(name).observe(spent)

    def replied(self, reply: Reply, seconds: float) -> None:
        """One reply, by its kind and reason only."""
        reason = reply.reason.value if reply.reason else ""
        self.replies.labels(reply.kind.value, reason).inc()
        self.reply_seconds.observe(seconds)

    # ---- the server's own

    def request(self, route: str, status: int, seconds: float) -> None:
        """One question request through ``route`` (one of :data:`ROUTES`)."""
        self.requests.labels(route, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def watch_waiting(self, route: str, count: Callable[[], float]) -> None:
        """Read ``count()`` as ``route``'s queue depth whenever metrics are collected."""
        self.waiting.labels(route).set_function(count)

    def index(self, generation: str | None, ingest_seconds: float | None) -> None:
        """The generation being read now, and its ingest's duration when recorded."""
        generation = generation or ""
        if generation != self._generation:
            if self._generation:
                self.generation.remove(self._generation)
            if generation:
                self.generation.labels(generation).set(1)
            self._generation = generation
        if ingest_seconds is not None:
            self.ingest_seconds.set(ingest_seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every counter."""
        return generate_latest(self.registry)
