"""Passages -> a cited, extractive answer. No language model writes anything.

The composer reads the sentences of the best passages, has the answerability
model (:mod:`ketabot.answerability`) judge how well each answers the question,
and quotes the few that clear its threshold as exact slices of their chunk;
when none does, the sources do not answer and the reply is "not found". A
pronoun-led sentence ("These may include ...") brings the sentence before it
so the quote reads on its own; near-duplicates from different articles are
dropped; a sentence that states a dose amount is never quoted (the dosing
policy, owned by :mod:`ketabot.safety`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from ketabot.answerability import AnswerModel, PairSignals, scalar_features, shipped_answer_model
from ketabot.chunking import context_key, sentence_key
from ketabot.config import Settings
from ketabot.embeddings import Embedder
from ketabot.retrieval import Retrieval, tokenize
from ketabot.safety.output import may_show, plain, shown_passage, web_address
from ketabot.text import is_complete_sentence, needs_antecedent, sentence_spans, words
from ketabot.types import Chunk, Citation, Disclaimer, Kind, Passage, Reply

SentenceVectors = Callable[[Sequence[str]], dict[str, np.ndarray]]
Stems = Callable[[str], frozenset[str]]
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


@dataclass(frozen=True)
class Candidate:
    """One quotable sentence and the probability that it answers the question."""

    chunk: Chunk
    start: int
    end: int
    index: int
    score: float
    vector: np.ndarray = field(repr=False, compare=False)
    context_vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    """The vector of this sentence read together with the one before it, where it needs it."""

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

    def __init__(
        self, embedder: Embedder, settings: Settings, model: AnswerModel | None = None
    ) -> None:
        self.embedder = embedder
        self.settings = settings
        self._model = model

    @property
    def model(self) -> AnswerModel:
        """The answerability model: the one given, else the shipped one (read on first use)."""
        return self._model or shipped_answer_model()

    @property
    def threshold(self) -> float:
        """The least answer probability for a sentence to be quoted."""
        return answer_threshold(self.settings, self.model)

    def candidates(
        self,
        question_vector: np.ndarray,
        found: Retrieval,
        stored: SentenceVectors | None = None,
        stems: Stems | None = None,
    ) -> list[Candidate]:
        """Every quotable sentence of the passages, with the probability that it answers."""
        units = self.units(found.passages, stored)
        if not units:
            return []
        scalars = pair_scalars(found, units, stems or _stems)
        vectors = np.vstack([u.vector for u in units])
        chances = self.model.probabilities(question_vector, vectors, scalars)
        return [replace(u, score=float(p)) for u, p in zip(units, chances, strict=True)]

    def units(
        self, passages: Sequence[Passage], stored: SentenceVectors | None = None
    ) -> list[Candidate]:
        """Every quotable sentence of the passages with its vectors, not yet scored."""
        spans = [
            (passage, i, s, e)
            for passage in passages
            for i, (s, e) in enumerate(sentence_spans(passage.chunk.text))
            if _quotable(passage.chunk.text[s:e])
        ]
        if not spans:
            return []
        units = [(sentence_key(p.chunk.id, i), p.chunk.text[s:e]) for p, i, s, e in spans]
        context = [
            (context_key(p.chunk.id, i), p.chunk.text[prev_start:e])
            for (p, i, s, e) in spans
            if i and needs_antecedent(p.chunk.text[s:e])
            for prev_start, _ in [sentence_spans(p.chunk.text)[i - 1]]
        ]
        found = self._unit_vectors([*units, *context], stored)
        return [
            Candidate(
                p.chunk,
                s,
                e,
                i,
                0.0,
                found[sentence_key(p.chunk.id, i)],
                found.get(context_key(p.chunk.id, i)),
            )
            for p, i, s, e in spans
        ]

    def _unit_vectors(
        self, units: list[tuple[str, str]], stored: SentenceVectors | None
    ) -> dict[str, np.ndarray]:
        """Vectors stored at ingest by key; the model runs only for any the index lacks."""
        found = stored([k for k, _ in units]) if stored else {}
        missing = [(k, text) for k, text in dict(units).items() if k not in found]
        if missing:
            vectors = self.embedder.embed([text for _, text in missing])
            found.update(zip((k for k, _ in missing), vectors, strict=True))
        return found

    def select(self, candidates: Sequence[Candidate]) -> list[Quote]:
        """The best few non-overlapping, non-duplicate quotes that answer, within the budget."""
        ranked = sorted(
            (c for c in candidates if c.score >= self.threshold), key=lambda c: -c.score
        )
        chosen: list[Quote] = []
        vectors: list[np.ndarray] = []
        budget = self.settings.retrieval.max_quote_chars
        by_position = {(c.chunk.id, c.index): c for c in candidates}
        for cand in ranked:
            if len(chosen) >= self.settings.retrieval.max_quotes:
                break
            quote = _with_context(cand, by_position)
            if quote is None or _overlaps(quote, chosen):
                continue
            vector = self._quote_vector(quote, cand)
            too_similar = any(float(vector @ other) >= DUPLICATE_SIMILARITY for other in vectors)
            if too_similar or len(quote.text) > budget:
                continue
            chosen.append(quote)
            vectors.append(vector)
            budget -= len(quote.text)
        return chosen

    def _quote_vector(self, quote: Quote, cand: Candidate) -> np.ndarray:
        """The vector of exactly what is quoted, as stored at ingest.

        Two sentences read together can repeat an earlier quote although neither does alone,
        so a quote with its preceding sentence is compared by the vector of both together.
        """
        if (quote.start, quote.end) == (cand.start, cand.end) or cand.context_vector is None:
            return cand.vector
        return cand.context_vector

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
                title=plain(q.chunk.title) or "",
                section=plain(q.chunk.section),
                chunk_id=q.chunk.id,
                quote=q.text,
                passage=shown_passage(q.chunk.text),
                publisher=plain(q.chunk.publisher),
                date=plain(q.chunk.date),
                url=web_address(q.chunk.url),
                page=q.chunk.page,
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


def answer_threshold(settings: Settings, model: AnswerModel | None = None) -> float:
    """The least answer probability for a quote: the configured one, else the model's own."""
    configured = settings.retrieval.answer_threshold
    if configured is not None:
        return configured
    return (model or shipped_answer_model()).threshold


def pair_scalars(found: Retrieval, units: Sequence[Candidate], stems: Stems) -> np.ndarray:
    """The answerability model's scalar signals for each candidate sentence."""
    rank = {p.chunk.id: n for n, p in enumerate(found.passages, start=1)}
    passage = {p.chunk.id: p for p in found.passages}
    top_lexical = max((p.lexical for p in found.passages), default=0.0) or 1.0
    signals = [
        PairSignals(
            sentence_stems=stems(u.text),
            passage_stems=stems(u.chunk.search_text),
            passage_relevance=passage[u.chunk.id].relevance,
            passage_lexical=passage[u.chunk.id].lexical / top_lexical,
            passage_rank=rank[u.chunk.id],
            needs_antecedent=needs_antecedent(u.text),
            length=len(u.text),
        )
        for u in units
    ]
    return scalar_features(found.focus, found.known, signals)


def _stems(text: str) -> frozenset[str]:
    return frozenset(tokenize([text])[0])


def render_quotes(citations: Sequence[Citation]) -> str:
    """Each quote in quotation marks, followed by its citation marker."""
    return "\n\n".join(f"“{c.quote}” [{c.n}]" for c in citations)


# The same corpus sentences are judged for every question; the judgement is the text's alone.
@lru_cache(maxsize=16_384)
def _quotable(sentence: str) -> bool:
    return (
        len(sentence) >= MIN_SENTENCE_CHARS
        and is_complete_sentence(sentence)
        and not sentence.rstrip().endswith("?")
        # dose amounts, text aimed at chatbots and markup never reach a patient (safety/output.py)
        and may_show(sentence)
        and not _ABOUT_THE_ARTICLE.search(sentence)
        and len(words(sentence)) >= 5
    )


def _overlaps(quote: Quote, chosen: Sequence[Quote]) -> bool:
    """Whether ``quote`` shares text with a quote already chosen (one with its context may)."""
    return any(
        q.chunk.id == quote.chunk.id and q.start < quote.end and quote.start < q.end for q in chosen
    )


def _with_context(cand: Candidate, by_position: dict[tuple[str, int], Candidate]) -> Quote | None:
    """The sentence, with the one before it when it opens with a pronoun that needs it.

    The sentence before must itself be quotable and on the same line; when it is not, a
    patient could not tell what "This" or "They" means, so the sentence is not quoted.
    """
    if not needs_antecedent(cand.text):
        return Quote(cand.chunk, cand.start, cand.end, cand.score)
    previous = by_position.get((cand.chunk.id, cand.index - 1))
    usable = (
        previous is not None
        and "\n" not in cand.chunk.text[previous.end : cand.start]
        and cand.end - previous.start <= MAX_QUOTE_CHARS
    )
    if not usable or previous is None:
        return None
    return Quote(cand.chunk, previous.start, cand.end, cand.score)
