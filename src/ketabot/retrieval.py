"""Question -> ranked passages: dense (Chroma) and lexical (BM25) search, fused.

Dense search finds paraphrases ("nerve pain" for "neuropathy"); BM25 finds
exact rare terms ("CRPS", "NMDA") that a small embedding model blurs. The two
are fused by a convex combination of cosine similarity and max-normalised
BM25 (the default, better on the tuning split) or by reciprocal rank fusion
(``retrieval.fusion``). BM25 is ``bm25s``: a sparse-matrix implementation
whose query cost stays small at 100,000 chunks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from ketabot.config import Settings
from ketabot.embeddings import Embedder
from ketabot.index import Snapshot
from ketabot.timing import stage
from ketabot.types import Chunk, Passage, Query

# Words that say nothing about *what* is asked; they are never among a question's focus terms.
_GENERIC_WORDS = [
    "what",
    "how",
    "why",
    "when",
    "where",
    "who",
    "which",
    "whom",
    "whose",
    "do",
    "does",
    "did",
    "can",
    "could",
    "should",
    "would",
    "may",
    "might",
    "must",
    "shall",
    "i",
    "me",
    "my",
    "mine",
    "myself",
    "you",
    "your",
    "we",
    "our",
    "us",
    "he",
    "him",
    "his",
    "she",
    "her",
    "they",
    "them",
    "their",
    "its",
    "about",
    "get",
    "got",
    "have",
    "has",
    "had",
    "am",
    "was",
    "were",
    "been",
    "being",
    "any",
    "some",
    "much",
    "many",
    "more",
    "most",
    "very",
    "really",
    "just",
    "also",
    "ok",
    "okay",
    "please",
    "thank",
    "thanks",
    "tell",
    "know",
    "want",
    "need",
    "like",
    "help",
    "use",
    "used",
    "using",
    "make",
    "thing",
    "things",
    "something",
    "anything",
    "way",
    "ways",
    "same",
    "other",
    "kind",
    "sort",
    "lot",
    "ketamine",
    "from",
    "than",
    "so",
    "too",
    "up",
    "out",
    "over",
    "after",
    "before",
    "there",
    "here",
    "all",
    "both",
    "each",
    "few",
    "own",
    "only",
    "yes",
    "no",
    "not",
    "don't",
    "dont",
    "people",
    "person",
    "someone",
    "anyone",
    "everyone",
    "doing",
    "done",
    "go",
    "going",
    "goes",
    "come",
    "say",
    "says",
    "said",
]


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """BM25 tokens: lower-case words, English stop words removed, stemmed."""
    # Imported here: bm25s brings SciPy, which `import ketabot` should not pay for.
    import bm25s

    tokens = bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return [list(t) for t in tokens]


# Sentences and passages whose stems are kept; more than a clinic corpus answers from.
_STEM_CACHE = 50_000


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


class LexicalIndex:
    """BM25 over the chunks' search text, and the corpus vocabulary it implies.

    From ``numba_from`` chunks on, bm25s's numba backend scores and selects (0.26 ms
    instead of 1.5 ms a query at 100,000 chunks, see ``ketabot bench``); it costs about
    5 s of compilation per process, paid here when the index opens rather than by the
    first patient, and not worth paying for a small clinic corpus.
    """

    def __init__(self, chunks: Sequence[Chunk], numba_from: int = 20_000) -> None:
        import bm25s

        # bm25s logs every index build at DEBUG; set after its import, which resets it.
        logging.getLogger("bm25s").setLevel(logging.WARNING)

        self.backend = "numba" if len(chunks) >= numba_from else "numpy"
        self._bm25 = bm25s.BM25(backend=self.backend)
        self._size = len(chunks)
        corpus_tokens = tokenize([chunk.search_text for chunk in chunks])
        self._bm25.index(corpus_tokens, show_progress=False)
        self._vocabulary = set(self._bm25.vocab_dict)
        # Six-letter stem prefixes let "pregnant" find "pregnancy" (stems pregnant/pregnanc).
        self._prefixes = {stem[:6] for stem in self._vocabulary if len(stem) >= 6}
        self._generic = set(tokenize([" ".join(_GENERIC_WORDS)])[0])
        self._stems: dict[str, frozenset[str]] = {}
        if self.backend == "numba" and self._vocabulary:
            self._bm25.retrieve([[next(iter(self._vocabulary))]], k=1, show_progress=False)

    def focus_terms(self, question: str) -> tuple[tuple[str, ...], int]:
        """The question's specific stems, and how many of them occur in the corpus at all."""
        focus = tuple(
            t for t in tokenize([question])[0] if t not in self._generic and not t.isdigit()
        )
        return focus, sum(1 for t in focus if self._known(t))

    def stems(self, text: str) -> frozenset[str]:
        """The stems of a corpus sentence or passage (cached: the corpus repeats them)."""
        found = self._stems.get(text)
        if found is None:
            if len(self._stems) >= _STEM_CACHE:
                self._stems.clear()
            found = self._stems[text] = frozenset(tokenize([text])[0])
        return found

    def _known(self, stem: str) -> bool:
        return stem in self._vocabulary or (len(stem) >= 6 and stem[:6] in self._prefixes)

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` (chunk position, BM25 score) pairs with a positive score, best first."""
        query = [t for t in tokenize([question])[0] if t in self._vocabulary]
        if not query or self._size == 0:
            return []
        documents, scores = self._bm25.retrieve(
            [query], k=min(k, self._size), show_progress=False, n_threads=1
        )
        return [(int(d), float(s)) for d, s in zip(documents[0], scores[0], strict=True) if s > 0]


@dataclass(frozen=True)
class Retrieval:
    """Passages found for one question, and what the answerability model reads besides them."""

    passages: tuple[Passage, ...]
    best_similarity: float
    focus: tuple[str, ...]
    """The question's specific stems (question words and stop words left out)."""
    known: int
    """How many of ``focus`` occur anywhere in the corpus."""
    answerable: bool
    """Whether the best passage is close enough in meaning to be worth reading at all."""


class Retriever:
    """Hybrid search over one index snapshot."""

    def __init__(self, snapshot: Snapshot, embedder: Embedder, settings: Settings) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.settings = settings
        self.lexical = LexicalIndex(snapshot.chunks, settings.retrieval.lexical_numba_from)

    def search(self, query: Query, limit: int | None = None) -> Retrieval:
        """Fused passages for ``query``, best first, with the relevance floor applied."""
        question, vector = query.search_text, query.search_vector
        k = max(self.settings.retrieval.candidates, limit or 0)
        with stage("dense search"):
            dense = self.snapshot.dense(vector, k)
        with stage("lexical search"):
            hits = self.lexical.search(question, k)
            lexical = [(self.snapshot.chunks[i], s) for i, s in hits]
            focus, known = self.lexical.focus_terms(question)
        with stage("fusion"):
            similarity = {chunk.id: sim for chunk, sim in dense}
            others = [chunk.id for chunk, _ in lexical if chunk.id not in similarity]
            for chunk_id, stored in self.snapshot.vectors(others).items():
                similarity[chunk_id] = float(stored @ vector)
            passages = fuse(dense, lexical, similarity, self.settings)
        best = max(similarity.values(), default=0.0)
        return Retrieval(
            passages=tuple(passages[: limit or self.settings.retrieval.passages]),
            best_similarity=best,
            focus=focus,
            known=known,
            answerable=best >= self.settings.retrieval.relevance_floor,
        )

    def sentence_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Sentence vectors stored at ingest, by sentence key (missing keys left out)."""
        return self.snapshot.sentence_vectors(keys)


def fuse(
    dense: Sequence[tuple[Chunk, float]],
    lexical: Sequence[tuple[Chunk, float]],
    similarity: dict[str, float],
    settings: Settings,
) -> list[Passage]:
    """Dense and lexical candidates in one ranking (``settings.retrieval.fusion``: convex or rrf).

    ``convex`` (the default, better on the tuning split, see README "Evaluation"):
    relevance = w * cosine similarity + (1 - w) * BM25 / best BM25 of this question.
    ``rrf``: reciprocal rank fusion, sum of 1 / (k + rank) over the two rankings.
    """
    chunks = {chunk.id: chunk for chunk, _ in [*dense, *lexical]}
    dense_rank = {chunk.id: r for r, (chunk, _) in enumerate(dense, start=1)}
    lexical_rank = {chunk.id: r for r, (chunk, _) in enumerate(lexical, start=1)}
    bm25 = {chunk.id: score for chunk, score in lexical}
    top_bm25 = max(bm25.values(), default=0.0) or 1.0
    relevance: dict[str, float] = {}
    for cid in chunks:
        if settings.retrieval.fusion == "rrf":
            relevance[cid] = sum(
                1.0 / (settings.retrieval.rrf_k + ranks[cid])
                for ranks in (dense_rank, lexical_rank)
                if cid in ranks
            )
        else:
            w = settings.retrieval.dense_weight
            relevance[cid] = w * similarity.get(cid, 0.0) + (1 - w) * bm25.get(cid, 0.0) / top_bm25
    ordered = sorted(relevance, key=lambda cid: (-relevance[cid], cid))
    return [
        Passage(
            chunk=chunks[cid],
            relevance=relevance[cid],
            similarity=similarity.get(cid, 0.0),
            lexical=bm25.get(cid, 0.0),
            dense_rank=dense_rank.get(cid),
            lexical_rank=lexical_rank.get(cid),
        )
        for cid in ordered
    ]
