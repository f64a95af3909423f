"""Whether a sentence *answers* a question: the learned answerability model.

Cosine similarity says a sentence is about the same things as the question; a patient
needs the sentence that answers it ("How does ketamine relieve nerve pain?" is closest to
"Ketamine therapy offers a promising option for relieving nerve pain", which does not say
how). The model, trained on ``eval/answerability/`` (``ketabot train-answers``; model card
in ``data/answerability.md``), scores one question against each candidate sentence:

- a learned low-rank adapter moves the question's MiniLM vector towards the sentences that
  answer such questions, and the cosine with the sentence's stored vector is taken there, so
  the index and its stored sentence vectors stay as they are;
- a few scalar signals are weighed in: how many of the question's specific words (stems, so
  "pregnant" finds "pregnancy") occur in the sentence, its passage and the corpus at all,
  and how well the passage ranked.

Every sentence is compared with a learned "the sources do not answer this" score; the
probability that a sentence answers is the logistic of the difference. Trained listwise with
that abstention as one more choice, so not-covered questions teach it to abstain.
Inference is one (32 x 384) and one (384 x 32) product and a dot product per sentence.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

SCALARS = (
    "sentence_cover",
    "passage_cover",
    "passage_relevance",
    "passage_lexical",
    "passage_rank",
    "needs_antecedent",
    "length",
    "corpus_cover",
    "no_focus",
)


@dataclass(frozen=True)
class PairSignals:
    """What the model reads about one candidate sentence besides its vector."""

    sentence_stems: Collection[str]
    passage_stems: Collection[str]
    passage_relevance: float
    passage_lexical: float
    """The passage's BM25 score over the best BM25 score of this question (0–1)."""
    passage_rank: int
    needs_antecedent: bool
    length: int


def scalar_features(
    focus: Collection[str], known: int, signals: Sequence[PairSignals]
) -> np.ndarray:
    """The (candidates, len(SCALARS)) matrix for one question.

    ``focus`` is the question's specific stems; ``known`` how many of them occur anywhere
    in the corpus (what the retired lexical coverage rule looked at, now one signal).
    """
    focus = set(focus)
    n = len(focus)
    rows = [
        (
            len(focus.intersection(s.sentence_stems)) / n if n else 0.0,
            len(focus.intersection(s.passage_stems)) / n if n else 0.0,
            s.passage_relevance,
            s.passage_lexical,
            1.0 / s.passage_rank,
            float(s.needs_antecedent),
            math.log(max(s.length, 1)) / 5,
            known / n if n else 1.0,
            float(n == 0),
        )
        for s in signals
    ]
    return np.array(rows, dtype=np.float32).reshape(len(rows), len(SCALARS))


@dataclass(frozen=True)
class AnswerModel:
    """The adapter, the signal weights, the abstention score and the shipped threshold."""

    down: np.ndarray  # (rank, dimension): question vector -> adapter space
    up: np.ndarray  # (dimension, rank): adapter space -> correction to the question vector
    scale: float
    weights: np.ndarray  # (len(SCALARS),)
    abstain: float
    threshold: float
    """Least probability for a sentence to be quoted, chosen on leave-one-document-out."""
    embedding: str

    def adapt(self, vector: np.ndarray) -> np.ndarray:
        """The question vector moved towards the sentences that answer such questions."""
        moved = vector + self.up @ (self.down @ vector)
        norm = float(np.linalg.norm(moved))
        return moved / norm if norm else moved

    def probabilities(
        self, question_vector: np.ndarray, sentence_vectors: np.ndarray, scalars: np.ndarray
    ) -> np.ndarray:
        """P(sentence answers the question) for each candidate sentence."""
        if len(sentence_vectors) == 0:
            return np.zeros(0, dtype=np.float32)
        logits = (sentence_vectors @ self.adapt(question_vector)) * self.scale
        logits = logits + scalars @ self.weights - self.abstain
        return 1.0 / (1.0 + np.exp(-logits))

    def save(self, path: Path) -> None:
        """Write the model (float16 adapter, compressed) for shipping."""
        np.savez_compressed(
            path,
            down=self.down.astype(np.float16),
            up=self.up.astype(np.float16),
            scale=np.float32(self.scale),
            weights=self.weights.astype(np.float32),
            abstain=np.float32(self.abstain),
            threshold=np.float32(self.threshold),
            embedding=np.array(self.embedding),
            scalars=np.array(SCALARS),
        )

    @classmethod
    def load(cls, path: Path) -> AnswerModel:
        """Read a model written by :meth:`save`."""
        with np.load(path) as data:
            if tuple(str(x) for x in data["scalars"]) != SCALARS:
                raise ValueError(f"{path} was trained on other signals")
            return cls(
                down=data["down"].astype(np.float32),
                up=data["up"].astype(np.float32),
                scale=float(data["scale"]),
                weights=data["weights"].astype(np.float32),
                abstain=float(data["abstain"]),
                threshold=float(data["threshold"]),
                embedding=str(data["embedding"]),
            )


SHIPPED = "answerability.npz"


@cache
def shipped_answer_model() -> AnswerModel:
    """The model shipped in ``ketabot/data/`` (built by ``ketabot train-answers``)."""
    path = resources.files("ketabot").joinpath("data", SHIPPED)
    return AnswerModel.load(Path(str(path)))
