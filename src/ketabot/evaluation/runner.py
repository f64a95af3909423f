"""One runner for every pipeline: the bot and the LangChain baseline answer the same cases."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
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

    def ranking(self, question: str, limit: int) -> tuple[str, ...]:
        """``Bot.search``: the same query path as ``ask``."""
        return tuple(p.chunk.id for p in self.bot.search(question, limit=limit))

    def relevant(self, phrases: Sequence[str]) -> tuple[str, ...]:
        """Chunks of the active index that hold a labelled phrase."""
        chunks = self.bot.retriever.snapshot.chunks
        return tuple(c.id for c in chunks if any(p in c.text for p in phrases))


def run(pipeline: Pipeline, cases: Iterable[Case]) -> list[Outcome]:
    """Every case through ``pipeline``; retrieval cases also record the ranking."""
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


def run_bot(bot: Bot, cases: Iterable[Case]) -> list[Outcome]:
    """Every case through the bot (one model load)."""
    return run(BotPipeline(bot), cases)
