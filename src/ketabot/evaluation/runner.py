"""One runner for every pipeline: the bot and the LangChain baseline answer the same cases."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from ketabot.evaluation.cases import Case
from ketabot.evaluation.metrics import AnyReply, Outcome

if TYPE_CHECKING:
    from ketabot.bot import Bot


class Pipeline(Protocol):
    """What the runner needs from a question-answering pipeline."""

    def ask(self, question: str, history: Sequence[str]) -> AnyReply:
        """The reply to one question after earlier ones."""
        ...

    def ranking(self, question: str, limit: int) -> tuple[str, ...]:
        """Ids of the chunks it would read for ``question``, best first."""
        ...

    def prime(self, asked: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Prepare for these questions all at once (batch work); may do nothing."""
        ...

    def relevant(self, phrases: Sequence[str]) -> tuple[str, ...]:
        """Ids of its chunks containing any of ``phrases`` (the labelled answers)."""
        ...


class BotPipeline:
    """The bot, exactly as patients reach it: ``Bot.ask`` and ``Bot.search``."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    def ask(self, question: str, history: Sequence[str]) -> AnyReply:
        """``Bot.ask``."""
        return self.bot.ask(question, list(history))

    def prime(self, asked: Sequence[tuple[str, Sequence[str]]]) -> None:
        """``Bot.prime``: the questions' embeddings in batches."""
        self.bot.prime((question, list(history)) for question, history in asked)

    def ranking(self, question: str, limit: int) -> tuple[str, ...]:
        """``Bot.search``: the same query path as ``ask``."""
        return tuple(p.chunk.id for p in self.bot.search(question, limit=limit))

    def relevant(self, phrases: Sequence[str]) -> tuple[str, ...]:
        """Chunks of the active index that hold a labelled phrase."""
        chunks = self.bot.retriever.snapshot.chunks
        return tuple(c.id for c in chunks if any(p in c.text for p in phrases))


# Cases run between progress lines, and embedded together first when primed: large enough
# for batching to pay, small enough that the embedder's cache keeps them until asked.
PRIME_BATCH = 1_000


def run(
    pipeline: Pipeline,
    cases: Iterable[Case],
    *,
    primed: bool = False,
    say: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Every case through ``pipeline``; retrieval cases also record the ranking.

    ``primed`` embeds the questions in batches first: the replies are the same, several
    times sooner, but each outcome's time then leaves out the question's embedding, so
    only runs that report no latency (the test suite's) ask for it.
    """
    cases = list(cases)
    outcomes: list[Outcome] = []
    for start in range(0, len(cases), PRIME_BATCH):
        batch = cases[start : start + PRIME_BATCH]
        if primed:
            pipeline.prime([(case.question, case.history) for case in batch])
        outcomes.extend(_run(pipeline, batch))
        if say is not None:
            say(f"  {len(outcomes)}/{len(cases)} cases")
    return outcomes


def _run(pipeline: Pipeline, cases: Sequence[Case]) -> list[Outcome]:
    outcomes = []
    for case in cases:
        started = time.perf_counter()
        reply = pipeline.ask(case.question, case.history)
        seconds = time.perf_counter() - started
        ranking: tuple[str, ...] = ()
        relevant: tuple[str, ...] = ()
        if case.passages:
            ranking = pipeline.ranking(case.question, 10)
            relevant = pipeline.relevant(case.passages)
        outcomes.append(Outcome(case, reply, seconds, ranking, relevant))
    return outcomes


def run_bot(
    bot: Bot,
    cases: Iterable[Case],
    *,
    primed: bool = False,
    say: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Every case through the bot (one model load); ``say`` hears the progress."""
    return run(BotPipeline(bot), cases, primed=primed, say=say)
