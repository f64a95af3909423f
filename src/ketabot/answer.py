"""Passages -> a cited, extractive answer. No language model writes anything.

The composer reads the sentences of the best passages, scores each against
the question, and quotes the few best as exact slices of their chunk. A
pronoun-led sentence ("These may include ...") brings the sentence before it
so the quote reads on its own; near-duplicates from different articles are
dropped; a sentence that states a dose amount is never quoted (the dosing
policy, owned by :mod:`ketabot.safety`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ketabot.chunking import sentence_key
from ketabot.config import Settings
from ketabot.embeddings import Embedder
from ketabot.safety.rules import is_instruction, states_dose
from ketabot.text import is_complete_sentence, sentence_spans, words
from ketabot.types import Chunk, Citation, Disclaimer, Kind, Passage, Reply

SentenceVectors = Callable[[Sequence[str]], dict[str, np.ndarray]]
MIN_SENTENCE_CHARS = 30
MAX_QUOTE_CHARS = 420
# Two quotes this similar say the same thing; the second adds nothing for a patient.
DUPLICATE_SIMILARITY = 0.85
# Sentences about the article rather than the topic ("In this article, we will ...").
_ABOUT_THE_ARTICLE = re.compile(
    r"\b(?:in this (?:article|section|post|blog|page)|we will|we have explored|this section will|"
    r"look no further|get ready to|read on|throughout this article)\b",
    re.IGNORECASE,
)
_NEEDS_ANTECEDENT = re.compile(r"^(?:this|these|those|it|its|they|their|such|that)\b", re.I)


@dataclass(frozen=True)
class Candidate:
    """One quotable sentence and how well it answers the question."""

    chunk: Chunk
    start: int
    end: int
    index: int
    score: float
    vector: np.ndarray = field(repr=False, compare=False)

    @property
    def text(self) -> str:
        """The sentence, sliced from its chunk."""
        return self.chunk.text[self.start : self.end]


@dataclass(frozen=True)
class Quote:
    """A contiguous, verbatim span of one chunk chosen for the answer."""

    chunk: Chunk
    start: int
    end: int
    score: float

    @property
    def text(self) -> str:
        """The quoted text, sliced from its chunk."""
        return self.chunk.text[self.start : self.end]


class Composer:
    """Chooses and renders quotes for one question."""

    def __init__(self, embedder: Embedder, settings: Settings) -> None:
        self.embedder = embedder
        self.settings = settings

    def candidates(
        self,
        question_vector: np.ndarray,
        passages: Sequence[Passage],
        stored: SentenceVectors | None = None,
    ) -> list[Candidate]:
        """Every quotable sentence of the passages, scored against the question."""
        spans = [
            (passage, i, s, e)
            for passage in passages
            for i, (s, e) in enumerate(sentence_spans(passage.chunk.text))
            if _quotable(passage.chunk.text[s:e])
        ]
        if not spans:
            return []
        vectors = self._sentence_vectors(spans, stored)
        similarity = vectors @ question_vector
        top = max(p.relevance for p in passages) or 1.0
        w = self.settings.retrieval.passage_weight
        return [
            # A sentence alone can echo the question without answering it ("To understand how
            # ketamine works, ..."); weighing in how well its whole passage matched prefers
            # sentences from the passages that are about the question.
            Candidate(p.chunk, s, e, i, (1 - w) * float(sim) + w * p.relevance / top, vector)
            for (p, i, s, e), sim, vector in zip(spans, similarity, vectors, strict=True)
        ]

    def _sentence_vectors(
        self, spans: list[tuple[Passage, int, int, int]], stored: SentenceVectors | None
    ) -> np.ndarray:
        """Vectors stored at ingest; the model runs only for any the index lacks."""
        keys = [sentence_key(p.chunk.id, i) for p, i, _, _ in spans]
        found = stored(keys) if stored else {}
        missing = [
            (k, p.chunk.text[s:e])
            for k, (p, _, s, e) in zip(keys, spans, strict=True)
            if k not in found
        ]
        if missing:
            found.update(
                zip(
                    (k for k, _ in missing),
                    self.embedder.embed([t for _, t in missing]),
                    strict=True,
                )
            )
        return np.vstack([found[k] for k in keys])

    def select(self, candidates: Sequence[Candidate]) -> list[Quote]:
        """The best few non-overlapping, non-duplicate quotes within the length budget."""
        ranked = sorted(candidates, key=lambda c: -c.score)
        if not ranked or ranked[0].score < self.settings.retrieval.sentence_floor:
            return []
        best, window = ranked[0].score, self.settings.retrieval.quote_window
        # Quotes must be nearly as good as the best one: a focused answer of two or three
        # strong quotes reads better than five whose last two wander off. A second quote is
        # allowed a wider window, because one quote alone rarely answers a patient's question.
        chosen: list[Quote] = []
        vectors: list[np.ndarray] = []
        budget = self.settings.retrieval.max_quote_chars
        by_position = {(c.chunk.id, c.index): c for c in candidates}
        for cand in ranked:
            floor = best - (window if len(chosen) != 1 else 2 * window)
            if len(chosen) >= self.settings.retrieval.max_quotes or cand.score < max(
                floor, self.settings.retrieval.sentence_floor
            ):
                break
            quote, parts = _with_context(cand, by_position)
            if quote is None or cand.chunk.id in {q.chunk.id for q in chosen}:
                continue
            # Redundant when any sentence of it nearly repeats a sentence already quoted.
            too_similar = any(
                float(part @ other) >= DUPLICATE_SIMILARITY for part in parts for other in vectors
            )
            if too_similar or len(quote.text) > budget:
                continue
            chosen.append(quote)
            vectors.extend(parts)
            budget -= len(quote.text)
        return chosen

    def compose(
        self, question: str, candidates: Sequence[Candidate], disclaimer: Disclaimer
    ) -> Reply | None:
        """The answer from scored candidates, or ``None`` when none is relevant enough."""
        quotes = self.select(candidates)
        if not quotes:
            return None
        citations = tuple(
            Citation(
                n=n,
                doc_id=q.chunk.doc_id,
                title=q.chunk.title,
                section=q.chunk.section,
                chunk_id=q.chunk.id,
                quote=q.text,
                passage=q.chunk.text,
                publisher=q.chunk.publisher,
            )
            for n, q in enumerate(quotes, start=1)
        )
        return Reply(
            question=question,
            kind=Kind.ANSWER,
            body=render_quotes(citations),
            disclaimer=disclaimer,
            citations=citations,
        )


def render_quotes(citations: Sequence[Citation]) -> str:
    """Each quote in quotation marks, followed by its citation marker."""
    return "\n\n".join(f"“{c.quote}” [{c.n}]" for c in citations)


def _quotable(sentence: str) -> bool:
    return (
        len(sentence) >= MIN_SENTENCE_CHARS
        and is_complete_sentence(sentence)
        and not sentence.rstrip().endswith("?")
        and not states_dose(sentence)
        # A corpus file can carry text aimed at chatbots; it is never quoted to a patient.
        and not is_instruction(sentence)
        and not _ABOUT_THE_ARTICLE.search(sentence)
        and len(words(sentence)) >= 5
    )


def _with_context(
    cand: Candidate, by_position: dict[tuple[str, int], Candidate]
) -> tuple[Quote | None, tuple[np.ndarray, ...]]:
    """The sentence, with the one before it when it opens with a pronoun that needs it.

    The sentence before must itself be quotable and on the same line; when it is not, a
    patient could not tell what "This" or "They" means, so the sentence is not quoted.
    Returns the quote and the vectors of its sentences.
    """
    if not _NEEDS_ANTECEDENT.match(cand.text):
        return Quote(cand.chunk, cand.start, cand.end, cand.score), (cand.vector,)
    previous = by_position.get((cand.chunk.id, cand.index - 1))
    usable = (
        previous is not None
        and "\n" not in cand.chunk.text[previous.end : cand.start]
        and cand.end - previous.start <= MAX_QUOTE_CHARS
    )
    if not usable or previous is None:
        return None, (cand.vector,)
    quote = Quote(cand.chunk, previous.start, cand.end, cand.score)
    return quote, (previous.vector, cand.vector)
