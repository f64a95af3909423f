"""The learned intent model: which safety class a question belongs to, as probabilities.

A multinomial logistic regression trained on ``eval/triage/`` (``ketabot train``;
model card in ``safety/data/intent.md``) over two views of the question that
the :class:`~ketabot.types.Query` already holds, so it costs no second model run:

- the MiniLM embedding of the normalised text (meaning, paraphrase);
- hashed character n-grams of the normalised text (typos, word forms, Spanish
  morphology, obfuscated spellings that the embedding blurs).

Inference is a few hundred hashes and one small matrix product in NumPy.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

LABELS = (
    "education",
    "medical_emergency",
    "self_harm",
    "dosing_advice",
    "illicit_use",
    "off_topic",
)
NGRAMS = (3, 4, 5)
# 2**16 buckets keep the artefact near 1 MB; collisions cost little at this data size.
BUCKETS = 2**16


def ngram_features(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Bucket ids and weights of the character n-grams of ``text`` (unit length)."""
    padded = f" {' '.join(text.split())} "
    grams = [padded[i : i + n] for n in NGRAMS for i in range(len(padded) - n + 1)]
    if not grams:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids = np.fromiter((zlib.crc32(g.encode()) % BUCKETS for g in grams), np.int64, len(grams))
    buckets, counts = np.unique(ids, return_counts=True)
    weights = np.sqrt(counts.astype(np.float32))
    return buckets, weights / float(np.linalg.norm(weights))


def thresholds_for(thresholds: dict[str, float], language: str) -> dict[str, float]:
    """The plain (English) thresholds, overridden by ``language``'s own ("es:emergency").

    The n-gram view carries most of the weight for Spanish (MiniLM reads English), so its
    scores sit differently; a language without thresholds of its own keeps the English ones.
    """
    own = {
        name.split(":", 1)[1]: value
        for name, value in thresholds.items()
        if name.startswith(f"{language}:")
    }
    return {name: value for name, value in thresholds.items() if ":" not in name} | own


@dataclass(frozen=True)
class IntentModel:
    """Weights over the two views, and the thresholds the decision policy applies."""

    dense: np.ndarray  # (labels, embedding dimension)
    sparse: np.ndarray  # (labels, BUCKETS)
    bias: np.ndarray  # (labels,)
    thresholds: dict[str, float]
    embedding: str

    def thresholds_for(self, language: str) -> dict[str, float]:
        """The thresholds the policy applies to a question in ``language``."""
        return thresholds_for(self.thresholds, language)

    def probabilities(self, normalized: str, vector: np.ndarray) -> dict[str, float]:
        """P(label | question) for every label."""
        buckets, weights = ngram_features(normalized)
        logits = self.dense @ vector + self.sparse[:, buckets] @ weights + self.bias
        exp = np.exp(logits - logits.max())
        return dict(zip(LABELS, (exp / exp.sum()).tolist(), strict=True))

    def save(self, path: Path) -> None:
        """Write the model (float16 weights, compressed) for shipping."""
        names = sorted(self.thresholds)
        np.savez_compressed(
            path,
            dense=self.dense.astype(np.float16),
            sparse=self.sparse.astype(np.float16),
            bias=self.bias.astype(np.float32),
            threshold_names=np.array(names),
            threshold_values=np.array([self.thresholds[n] for n in names], dtype=np.float32),
            embedding=np.array(self.embedding),
            labels=np.array(LABELS),
        )

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        """Read a model written by :meth:`save`."""
        with np.load(path) as data:
            if tuple(str(x) for x in data["labels"]) != LABELS:
                raise ValueError(f"{path} was trained for other labels")
            return cls(
                dense=data["dense"].astype(np.float32),
                sparse=data["sparse"].astype(np.float32),
                bias=data["bias"].astype(np.float32),
                thresholds={
                    str(n): float(v)
                    for n, v in zip(data["threshold_names"], data["threshold_values"], strict=True)
                },
                embedding=str(data["embedding"]),
            )


SHIPPED = "intent.npz"


@cache
def shipped_model() -> IntentModel | None:
    """The model shipped in ``safety/data/``, or ``None`` before one was trained."""
    path = resources.files("ketabot.safety").joinpath("data", SHIPPED)
    if not path.is_file():
        return None
    return IntentModel.load(Path(str(path)))
