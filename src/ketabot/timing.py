"""Per-stage timings of the real query path, for ``ketabot bench`` and ``/metrics``.

The bot marks its stages with ``with stage("dense"):``. Nothing is
recorded unless a :class:`Recorder` is active in the current context, so
the marks cost a context-variable lookup where nobody reads them. Recorders
nest: the bot records each question's stages for its metrics, and a bench
recording around it still sees them.
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
        outer = _active.get()
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)
            if outer is not None:
                for name, seconds in self.seconds.items():
                    outer.seconds[name] = outer.seconds.get(name, 0.0) + seconds


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
