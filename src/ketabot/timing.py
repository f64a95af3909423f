"""Per-stage timings of the real query path, for ``ketabot bench``.

The bot marks its stages with ``with stage("dense"):``. Nothing is
recorded unless a :class:`Recorder` is active in the current context, so
the marks cost a context-variable lookup in production.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

STAGES = ("triage", "embedding", "dense search", "lexical search", "fusion", "composition")

_active: ContextVar[Recorder | None] = ContextVar("ketabot_timing", default=None)


class Recorder:
    """Collects seconds per stage while active."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def active(self) -> Iterator[Recorder]:
        """Record the stages run inside this block."""
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as ``name`` when a recorder is active."""
    recorder = _active.get()
    if recorder is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        recorder.seconds[name] = recorder.seconds.get(name, 0.0) + elapsed
