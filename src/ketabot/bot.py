"""The Bot: input check -> safety triage -> retrieval -> composed answer.

The model and the index load once, when the bot is built (or on the first
question); every later question reuses them.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ketabot.answer import Composer
from ketabot.config import Settings, load_settings
from ketabot.embeddings import Embedder, load_embedder
from ketabot.index import Index, connect
from ketabot.replies import EMPTY, INTERNAL, TOO_LONG, UNREADABLE, Replies
from ketabot.retrieval import Retrieval, Retriever
from ketabot.safety import Signals, Triage, decide, is_follow_up, normalize
from ketabot.timing import stage
from ketabot.types import Kind, Passage, Reply, Turn, Verdict

log = logging.getLogger("ketabot")

History = Iterable[str | Turn | Mapping[str, Any]]
_TAG = re.compile(r"<[^<>]{0,500}>")
_SCRIPT = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL)


class Bot:
    """Answers questions about ketamine for nerve pain, only from its sources."""

    def __init__(
        self, settings: Settings | None = None, *, embedder: Embedder | None = None
    ) -> None:
        self.settings = settings or load_settings()
        self.embedder = embedder or load_embedder(self.settings.embed_model)
        self.index = Index(connect(self.settings), self.settings.collection)
        self.triage = Triage(self.embedder, self.settings)
        self.composer = Composer(self.embedder, self.settings)
        self.replies = Replies(self.settings)
        self._retriever: Retriever | None = None
        self._lock = threading.Lock()

    @property
    def retriever(self) -> Retriever:
        """Hybrid search over the active index, opened on first use."""
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(
                    self.index.open(self.embedder), self.embedder, self.settings
                )
            return self._retriever

    def reload(self) -> None:
        """Re-open the index (after an ingest) on the next question."""
        with self._lock:
            self._retriever = None

    def ask(self, question: str, history: History | None = None) -> Reply:
        """The reply to ``question``; ``history`` holds earlier turns, oldest first."""
        started = time.perf_counter()
        text, problem = check_question(question, self.settings.max_question_chars)
        if problem:
            reply = self.replies.error(_echo(question, self.settings.max_question_chars), problem)
        else:
            reply = self._answer(text, user_turns(history, self.settings.max_history_turns))
        # Only the shape of the reply is logged: patients type their own health details.
        log.info(
            "reply kind=%s reason=%s citations=%d ms=%.0f",
            reply.kind.value,
            reply.reason,
            len(reply.citations),
            (time.perf_counter() - started) * 1000,
        )
        return reply

    def search(self, question: str, limit: int = 10) -> list[Passage]:
        """The ranked passages the bot would read for ``question`` (for evaluation)."""
        text, _ = check_question(question, self.settings.max_question_chars)
        normalized = normalize(text)
        vector = self.embedder.embed([normalized])[0]
        return list(self.retriever.search(normalized, vector, limit=limit).passages)

    def trace(self, text: str, prior: list[str], *, always_retrieve: bool = False) -> Trace:
        """What the triage and the retriever observed for one checked question."""
        with stage("embedding"):
            vector = self.embedder.embed([normalize(text)])[0]
        with stage("triage"):
            signals = self.triage.signals(text, prior, vector)
            verdict = decide(signals, self.settings)
        if not always_retrieve and verdict.kind is not Kind.ANSWER:
            return Trace(text, vector, signals, verdict, None)
        query = text
        if prior and is_follow_up(text):
            # "what about its side effects?" is searched together with the question it follows.
            query = f"{prior[-1]} {text}"
            with stage("embedding"):
                vector = self.embedder.embed([normalize(query)])[0]
        return Trace(
            text, vector, signals, verdict, self.retriever.search(normalize(query), vector)
        )

    def _answer(self, text: str, prior: list[str]) -> Reply:
        trace = self.trace(text, prior)
        if trace.verdict.kind is not Kind.ANSWER or trace.retrieval is None:
            return self.replies.for_verdict(text, trace.verdict)
        reply = None
        if trace.retrieval.answerable:
            with stage("composition"):
                reply = self.composer.compose(
                    text,
                    trace.vector,
                    trace.retrieval.passages,
                    self.replies.disclaimer,
                    self.retriever.snapshot.sentence_vectors,
                )
        return reply or self.replies.not_found(text)


@dataclass(frozen=True)
class Trace:
    """One question's way through the bot, before the reply is written."""

    text: str
    vector: np.ndarray
    signals: Signals
    verdict: Verdict
    retrieval: Retrieval | None


def safe_ask(bot: Bot, question: Any, history: History | None = None) -> Reply:
    """``bot.ask`` for the edges (CLI, web): an unexpected failure becomes a friendly reply.

    One failed question never stops the rest: the CLI answers the next line, the web
    server keeps serving. Only the exception's type is logged, never the question.
    """
    try:
        return bot.ask(question, history)
    except Exception as exc:  # the edge: anything unexpected becomes a friendly reply
        log.error("internal error while answering: %s", type(exc).__name__)
        return bot.replies.error(question if isinstance(question, str) else "", INTERNAL)


def check_question(question: object, max_chars: int) -> tuple[str, str | None]:
    """The question as plain text, or the reason it cannot be answered."""
    if isinstance(question, bytes):
        try:
            question = question.decode("utf-8")
        except UnicodeDecodeError:
            return "", UNREADABLE
    if not isinstance(question, str):
        return "", UNREADABLE
    controls = sum(
        1
        for ch in question
        if unicodedata.category(ch) in ("Cc", "Cs", "Co") and ch not in "\n\r\t"
    )
    if "\x00" in question or "\ufffd" in question or controls > max(2, len(question) // 20):
        return "", UNREADABLE
    if len(question) > max_chars:
        return "", TOO_LONG
    text = html.unescape(_TAG.sub(" ", _SCRIPT.sub(" ", question)))
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = " ".join(text.split())
    if not any(ch.isalnum() for ch in text):
        return "", EMPTY
    return text, None


def user_turns(history: History | None, limit: int) -> list[str]:
    """The user's earlier questions from any supported history shape, oldest first."""
    turns: list[str] = []
    for item in history or ():
        if isinstance(item, str):
            turns.append(item)
        elif isinstance(item, Turn):
            turns.append(item.question)
        elif isinstance(item, Mapping) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                turns.append(content)
    cleaned = [check_question(t, 10_000)[0] for t in turns]
    return [t for t in cleaned if t][-limit:] if limit else []


def _echo(question: object, max_chars: int) -> str:
    if not isinstance(question, str):
        return ""
    return question if len(question) <= max_chars else question[:max_chars] + "…"
