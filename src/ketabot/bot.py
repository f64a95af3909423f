"""The Bot: question -> :class:`Query` -> triage -> retrieval -> reply.

There is one path. ``ask`` builds the query once, ``trace`` records what the
triage and the retriever observed, and :func:`route` decides the kind of reply
from a trace; evaluation and tuning use the same three steps, so they measure
and tune exactly what patients get. The model and the index load once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ketabot.answer import Candidate, Composer, answer_threshold
from ketabot.config import Settings, load_settings
from ketabot.embeddings import Embedder, load_embedder
from ketabot.errors import GenerationGoneError, HistoryError, IndexMissingError
from ketabot.index import Index, connect
from ketabot.language import OTHER, warm
from ketabot.query import History, build_query, query_texts
from ketabot.replies import Replies
from ketabot.retrieval import Retrieval, Retriever
from ketabot.safety import Signals, Triage, decide
from ketabot.suggestions import Suggestions, read_questions
from ketabot.timing import Recorder, stage
from ketabot.types import Kind, Passage, Query, Reason, Reply, Verdict

log = logging.getLogger("ketabot")


@dataclass(frozen=True)
class Trace:
    """One question's way through the bot, before the reply is written."""

    query: Query
    signals: Signals
    verdict: Verdict
    retrieval: Retrieval | None
    candidates: tuple[Candidate, ...] = ()

    @property
    def best_sentence(self) -> float:
        """The best quotable sentence's score, or 0 when none was scored."""
        return max((c.score for c in self.candidates), default=0.0)


class Observer(Protocol):
    """Told how long each stage took and which reply each question got (``/metrics``).

    Never the question: an observer sees the reply's kind and reason through ``reply``,
    and must not keep its text.
    """

    def stages(self, seconds: Mapping[str, float]) -> None:
        """Seconds spent in each stage of one step of one question."""

    def replied(self, reply: Reply, seconds: float) -> None:
        """A reply was given, ``seconds`` after its question arrived."""


def route(trace: Trace, settings: Settings) -> Kind:
    """The kind of reply a traced question gets under ``settings``.

    The one routing rule: ``Bot.ask`` applies it with the bot's settings, tuning with
    each candidate setting, so a sweep cannot drift from what the bot really does. An
    answer needs a sentence that the answerability model says answers.
    """
    verdict = decide(trace.signals, settings)
    if verdict.kind is not Kind.ANSWER:
        return verdict.kind
    found = trace.retrieval
    # The floors are read from ``settings`` here, not from the trace, so tuning can replay.
    if found is None or found.best_similarity < settings.retrieval.relevance_floor:
        return Kind.NOT_FOUND
    if trace.best_sentence < answer_threshold(settings):
        return Kind.NOT_FOUND
    return Kind.ANSWER


class Bot:
    """Answers questions about ketamine for nerve pain, only from its sources."""

    def __init__(
        self, settings: Settings | None = None, *, embedder: Embedder | None = None
    ) -> None:
        self.settings = settings or load_settings()
        self.embedder = embedder or load_embedder(
            self.settings.embed_model, self.settings.model_cache, self.settings.embed_runtime
        )
        self.index = Index(connect(self.settings), self.settings.collection)
        self.triage = Triage(self.embedder, self.settings)
        self.composer = Composer(self.embedder, self.settings)
        self.replies = Replies(self.settings)
        warm()  # the language detector's model, once, before the first question
        self._retriever: Retriever | None = None
        self._suggestions: Suggestions | None = None
        self._lock = threading.Lock()
        self._suggesting = threading.Lock()
        self._checked = time.monotonic()
        self.observers: list[Observer] = []

    @classmethod
    def ready(cls, settings: Settings, say: Callable[[str], None] = print) -> Bot:
        """A bot with its index open; builds the index first when there is none."""
        from ketabot.ingest import ingest

        bot = cls(settings)
        try:
            bot.retriever  # noqa: B018  (opens the index now, not on the first question)
        except IndexMissingError:
            say(f"No index yet: building it from {settings.corpus} (once).")
            ingest(settings, embedder=bot.embedder)
            bot.reload()
            bot.retriever  # noqa: B018
        return bot

    def warm_suggestions(self) -> threading.Thread:
        """Embed the suggestion list in the background, so neither the start nor a patient waits.

        A server starts this once it is listening: about 0.4 s of a cold start that the first
        answer does not need (a "not found" asked meanwhile builds the list itself).
        """
        thread = threading.Thread(target=lambda: self.suggestions, name="suggestions", daemon=True)
        thread.start()
        return thread

    @property
    def retriever(self) -> Retriever:
        """Hybrid search over the active index: opened on first use, re-opened after an ingest."""
        with self._lock:
            if self._retriever is None or self._replaced(self._retriever):
                self._retriever = Retriever(
                    self.index.open(self.embedder), self.embedder, self.settings
                )
                self._suggestions = None  # they were checked against the old index
            return self._retriever

    def generation(self) -> str | None:
        """The index generation open for reading, or ``None`` before it is opened."""
        retriever = self._retriever
        return None if retriever is None else retriever.snapshot.generation

    def _replaced(self, retriever: Retriever) -> bool:
        """Whether an ingest (in any process) made another generation active since it opened.

        One metadata read, at most every ``index_check_seconds``: a running server answers
        from new documents within seconds, with no restart and no signal from the ingest.
        """
        now = time.monotonic()
        if now - self._checked < self.settings.index_check_seconds:
            return False
        self._checked = now
        pointer = self.index.pointer()
        return pointer is not None and pointer.active != retriever.snapshot.generation

    @property
    def suggestions(self) -> Suggestions:
        """Questions "not found" may offer, checked against the index that is open."""
        with self._suggesting:  # built once, even when a patient asks while it is warming
            found = self._suggestions
            if found is None:
                clinic = self.settings.clinic.example_questions
                questions = read_questions(self.settings.corpus, clinic)
                found = self._suggestions = Suggestions(questions, self.embedder, self.answers)
            return found

    def answers(self, question: str) -> bool:
        """Whether ``question`` gets quotes (not refused, not "not found") from the sources."""
        trace = self.trace(self.query(question))
        return route(trace, self.settings) is Kind.ANSWER and bool(
            self.composer.select(trace.candidates)
        )

    def reload(self) -> None:
        """Re-open the index (after an ingest) on the next question."""
        with self._lock:
            self._retriever = None
            self._suggestions = None

    def query(
        self, question: object, history: History | None = None, language: str | None = None
    ) -> Query:
        """``question`` after ``history`` as the one value every stage reads.

        ``language`` ("en" or "es"), when the caller knows the patient's, settles a close
        call of the language detector; the question's own words still decide a clear one.
        """
        return build_query(
            question,
            history,
            self.embedder,
            max_chars=self.settings.input.max_question_chars,
            max_turns=self.settings.input.max_history_turns,
            language=language,
        )

    def prime(self, asked: Iterable[tuple[object, History | None]]) -> None:
        """Embed the texts these questions will need, in batches, ahead of asking them."""
        texts = [
            text
            for question, history in asked
            for text in query_texts(
                question,
                history,
                max_chars=self.settings.input.max_question_chars,
                max_turns=self.settings.input.max_history_turns,
            )
        ]
        self.embedder.embed(list(dict.fromkeys(texts)))

    def ask(
        self, question: object, history: History | None = None, language: str | None = None
    ) -> Reply:
        """The reply to ``question``; ``history`` holds earlier turns, oldest first."""
        started = time.perf_counter()
        with self._timed():
            reply = self._answer(self.query(question, history, language))
        return self._done(reply, started)

    def answer(self, query: Query, started: float | None = None) -> Reply:
        """The reply to a query already built (:meth:`query`), as :meth:`ask` gives it."""
        started = time.perf_counter() if started is None else started
        with self._timed():
            reply = self._answer(query)
        return self._done(reply, started)

    def first_look(
        self, question: object, history: History | None = None, language: str | None = None
    ) -> tuple[Query, Reply | None]:
        """The question's query, and its reply when the triage alone says it is an emergency.

        The same decision :meth:`answer` makes first, without retrieval: the web page and the
        JSON API ask it apart from their answer queues, so an emergency never waits behind
        answers, nor is turned away when they are full; the query is then answered there.
        """
        started = time.perf_counter()
        with self._timed():
            query = self.query(question, history, language)
            reply = self._urgent(query)
        return query, None if reply is None else self._done(reply, started)

    def urgent(self, query: Query) -> Reply | None:
        """The emergency reply for a query already built, else ``None`` (:meth:`first_look`)."""
        started = time.perf_counter()
        with self._timed():
            reply = self._urgent(query)
        return None if reply is None else self._done(reply, started)

    def _answer(self, query: Query) -> Reply:
        if query.problem is not None:
            return self.replies.error(query.question, query.problem)
        return self.reply(self.trace(query))

    def _urgent(self, query: Query) -> Reply | None:
        if query.problem is not None:
            return None
        with stage("triage"):
            verdict = decide(self.triage.signals(query), self.settings)
        if verdict.kind is not Kind.EMERGENCY:
            return None
        return self.replies.for_verdict(query.text, verdict, query.language)

    @contextmanager
    def _timed(self) -> Iterator[None]:
        """Record the stages run inside, and tell the observers (when there are any)."""
        if not self.observers:
            yield
            return
        with Recorder().active() as recorder:
            yield
        for observer in self.observers:
            observer.stages(recorder.seconds)

    def _done(self, reply: Reply, started: float) -> Reply:
        seconds = time.perf_counter() - started
        # Only the shape of the reply is logged: patients type their own health details.
        log.info(
            "reply kind=%s reason=%s citations=%d ms=%.0f",
            reply.kind.value,
            reply.reason.value if reply.reason else None,
            len(reply.citations),
            seconds * 1000,
        )
        for observer in self.observers:
            observer.replied(reply, seconds)
        return reply

    def search(self, question: str, limit: int = 10) -> list[Passage]:
        """The ranked passages the bot would read for ``question`` (for evaluation)."""
        return list(self.retriever.search(self.query(question), limit=limit).passages)

    def trace(self, query: Query, *, always_retrieve: bool = False) -> Trace:
        """What the triage and the retriever observed for ``query``.

        ``always_retrieve`` searches and scores sentences even when the triage has decided,
        so tuning can replay the question under other thresholds.
        """
        with stage("triage"):
            signals = self.triage.signals(query)
            verdict = decide(signals, self.settings)
        if not always_retrieve and verdict.kind is not Kind.ANSWER:
            return Trace(query, signals, verdict, None)
        found, candidates = self._search(query, always_retrieve)
        if query.search_text != query.normalized:
            # A follow-up that refers back ("and is it addictive?") is searched with the turn
            # it follows; its own words may still say it all. The reading whose best sentence
            # answers better wins, so the earlier turn fills a gap and never drowns the point.
            alone = replace(query, search_text=query.normalized, search_vector=query.vector)
            # Read in full even below the relevance floor: a fragment is far from every
            # passage in meaning ("and is it addictive?") although its words are in one.
            found_alone, candidates_alone = self._search(alone, always_retrieve=True)
            if _best(candidates_alone) > _best(candidates):
                found, candidates = found_alone, candidates_alone
        return Trace(query, signals, verdict, found, candidates)

    def _search(
        self, query: Query, always_retrieve: bool
    ) -> tuple[Retrieval, tuple[Candidate, ...]]:
        """The passages found for ``query`` and their sentences scored (when worth reading).

        An ingest may remove the generation being read between two questions or during one;
        the question is then asked again of the active generation, never dropped.
        """
        try:
            return self._search_once(query, always_retrieve)
        except GenerationGoneError:
            self.reload()
            return self._search_once(query, always_retrieve)

    def _search_once(
        self, query: Query, always_retrieve: bool
    ) -> tuple[Retrieval, tuple[Candidate, ...]]:
        retriever = self.retriever
        found = retriever.search(query)
        if not (always_retrieve or found.answerable):
            return found, ()
        with stage("composition"):
            candidates = self.composer.candidates(
                query.search_vector, found, retriever.sentence_vectors, retriever.lexical.stems
            )
        return found, tuple(candidates)

    def reply(self, trace: Trace) -> Reply:
        """The reply for a traced question, in the question's language where ketabot has it."""
        kind = route(trace, self.settings)
        text, language = trace.query.text, trace.query.language
        if language == OTHER and kind not in (Kind.EMERGENCY, Kind.REFUSAL):
            # The sources and the reply texts are English and Spanish; say so, with the
            # emergency number, rather than quote at a question ketabot could not read.
            return self.replies.error(text, Reason.UNSUPPORTED_LANGUAGE)
        if kind is Kind.ANSWER:
            disclaimer = self.replies.disclaimer_for(language)
            with stage("composition"):
                answer = self.composer.compose(text, trace.candidates, disclaimer)
            return answer or self.not_found(trace.query)
        if kind is Kind.NOT_FOUND:
            return self.not_found(trace.query)
        return self.replies.for_verdict(text, trace.verdict, language)

    def not_found(self, query: Query) -> Reply:
        """The "not found" reply, offering the closest questions the sources do answer."""
        offered = self.suggestions.closest(query.search_vector, query.text)
        return self.replies.not_found(query.text, query.language, offered)


def _best(candidates: tuple[Candidate, ...]) -> float:
    return max((c.score for c in candidates), default=0.0)


def safe_ask(
    bot: Bot, question: Any, history: History | None = None, language: str | None = None
) -> Reply:
    """``bot.ask`` for the edges (CLI, web): an unexpected failure becomes a friendly reply.

    One failed question never stops the rest: the CLI answers the next line, the web
    server keeps serving. Only the exception's type is logged, never the question.
    """
    try:
        return bot.ask(question, history, language)
    except HistoryError:
        log.warning("history was not a list of earlier turns: answered without it")
        return safe_ask(bot, question, None, language)
    except Exception as exc:  # the edge: anything unexpected becomes a friendly reply
        return _internal_error(bot, question, exc)


def safe_answer(bot: Bot, query: Query, started: float | None = None) -> Reply:
    """``bot.answer`` for the edges, as :func:`safe_ask` is for ``bot.ask``."""
    try:
        return bot.answer(query, started)
    except Exception as exc:  # the edge: anything unexpected becomes a friendly reply
        return _internal_error(bot, query.question, exc)


def _internal_error(bot: Bot, question: Any, exc: Exception) -> Reply:
    log.error("internal error while answering: %s", type(exc).__name__)
    return bot.replies.error(question if isinstance(question, str) else "", Reason.INTERNAL_ERROR)
