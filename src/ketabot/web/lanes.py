"""Where the JSON API's questions run: the emergency check apart from the answers.

Each question takes two steps, as on the page. The first look (checking, embedding and
the safety triage) runs in a lane of its own, so an emergency is answered without waiting
behind answers; every other question then waits for an answer worker. Both lanes are
thread pools sized by ``api.workers``: while one question waits for the embedding model,
which encodes the questions waiting together, another runs its search. Bounded waiting:
past ``api.max_waiting`` a question is told to retry (503) — after its emergency check.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from ketabot.config import Settings

T = TypeVar("T")
# Emergency checks take milliseconds each; this many waiting is a second or two of work.
CHECKS_WAITING = 256


class Busy(Exception):
    """Too many questions wait already: the caller should retry shortly."""


def workers(settings: Settings) -> int:
    """Threads per lane: ``api.workers``, or four per CPU core."""
    return settings.api.workers or 4 * (os.cpu_count() or 1)


class Lanes:
    """The first-look lane and the answer lane, with their bounds."""

    def __init__(self, settings: Settings) -> None:
        size = workers(settings)
        self.checks = anyio.CapacityLimiter(size)
        self.answers = anyio.CapacityLimiter(size)
        self.max_waiting = settings.api.max_waiting

    def waiting(self) -> int:
        """Questions waiting for a thread in either lane now."""
        return self.checks.statistics().tasks_waiting + self.answers.statistics().tasks_waiting

    async def first_look(self, step: Callable[[], T]) -> T:
        """Run a first look; :class:`Busy` only when thousands of milliseconds would pass."""
        if self.checks.statistics().tasks_waiting >= CHECKS_WAITING:
            raise Busy
        return await anyio.to_thread.run_sync(step, limiter=self.checks)

    async def answer(self, step: Callable[[], T]) -> T:
        """Run an answer; :class:`Busy` when ``max_waiting`` answers wait already."""
        if self.answers.statistics().tasks_waiting >= self.max_waiting:
            raise Busy
        return await anyio.to_thread.run_sync(step, limiter=self.answers)
