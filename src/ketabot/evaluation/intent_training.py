"""``ketabot train``: the intent model from the labelled triage corpus in ``eval/triage/``.

Each message goes through the production query path (``build_query``: the same
check, normalisation and embedding as ``Bot.ask``), so the model is trained on
exactly the features it will see. Splits are by writing family, never at
random: a family (one idea or template, 5–25 messages) is wholly in ``train``,
``tune`` or ``test``, so the test figures measure generalisation to phrasings
the model never saw a sibling of. Thresholds are chosen on ``tune`` only.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ketabot.embeddings import Embedder
from ketabot.query import build_query
from ketabot.safety.intent import BUCKETS, LABELS, IntentModel, ngram_features, thresholds_for

SEED = 20261121
# Categories of the corpus that the triage treats alike: an uncovered question is answered
# with "not found" later, by retrieval, so to the triage it is an education question.
LABEL_OF = {"not_covered": "education"}
EMERGENCY = ("medical_emergency", "self_harm")
# The policy's costs are asymmetric: a missed emergency is worst, then giving dosing advice,
# then illicit help; a refused education question costs too. Each safety class gets, per
# language, the lowest threshold whose false alarms on that language's tune education
# messages stay within a budget. Blind round 5 found dosing refusal complete and crises
# missed, so emergencies get as much of the budget as dosing. Spanish has a third as many
# tune education messages: at 1.25 % its emergency threshold rests on the third-highest
# false alarm alone (0.79 for model v8, where one shared threshold had been 0.61), so its
# emergency budget is 2 %.
FALSE_ALARM_BUDGET = {
    "en": {"emergency": 0.0125, "dosing_advice": 0.0125, "illicit_use": 0.005},
    "es": {"emergency": 0.02, "dosing_advice": 0.0125, "illicit_use": 0.005},
}
# The emergency recall the tune split should show, and the share of tune education messages
# the emergency class may then flag at most (the policy's over-refusal floor).
EMERGENCY_RECALL = 0.97
FALSE_ALARM_CEILING = 0.03
OFF_TOPIC_FLOOR = 0.5
# The answerability set's questions were written to be answered, not to probe the policy; as
# tune education messages they would turn every false-alarm budget into a share of easy
# questions (model v14's emergency threshold fell to 0.30 and "Translate 'good morning'"
# became a crisis). They train the model and count in its test figures, never in a budget.
NOT_FOR_BUDGETS = ("answerability:",)


@dataclass(frozen=True)
class Example:
    """One labelled message of the triage corpus."""

    text: str
    label: str
    lang: str
    family: str
    history: tuple[str, ...]

    @property
    def split(self) -> str:
        """``train``, ``tune`` or ``test``, fixed by the family's name."""
        bucket = zlib.crc32(self.family.encode()) % 10
        return "train" if bucket < 6 else "tune" if bucket < 8 else "test"


def load_examples(folder: Path) -> list[Example]:
    """Every message in ``folder/*.jsonl``; family ids are made unique per source file."""
    examples = []
    for path in sorted(folder.glob("*.jsonl")):
        source = path.stem.rsplit("-round-", 1)[0]
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            examples.append(
                Example(
                    text=row["text"],
                    label=LABEL_OF.get(row["label"], row["label"]),
                    lang=row["lang"],
                    family=f"{source}:{row['family']}",
                    history=tuple(row.get("history") or ()),
                )
            )
    return examples


def featurize(examples: Sequence[Example], embedder: Embedder) -> tuple[list[str], np.ndarray]:
    """What the triage shows the model: the production query's search text and vector.

    For a follow-up that is the fragment together with the question it follows.
    """
    queries = [
        build_query(e.text, e.history, embedder, max_chars=100_000, max_turns=6) for e in examples
    ]
    return [q.context_text for q in queries], np.vstack([q.context_vector for q in queries])


def _design(texts: Sequence[str], vectors: np.ndarray) -> object:
    from scipy import sparse

    rows, cols, vals = [], [], []
    for i, text in enumerate(texts):
        buckets, weights = ngram_features(text)
        rows += [i] * len(buckets)
        cols += buckets.tolist()
        vals += weights.tolist()
    grams = sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), BUCKETS))
    return sparse.hstack([sparse.csr_matrix(vectors), grams]).tocsr()


def fit(texts: Sequence[str], vectors: np.ndarray, labels: Sequence[str]) -> IntentModel:
    """A multinomial logistic regression over both views (thresholds set later)."""
    from sklearn.linear_model import LogisticRegression

    y = np.array([LABELS.index(label) for label in labels])
    # Balanced weights: the corpus has more education than illicit messages by design, and
    # the rarer safety classes must not lose to the prior.
    classifier = LogisticRegression(
        C=16.0, max_iter=3000, class_weight="balanced", random_state=SEED
    )
    classifier.fit(_design(texts, vectors), y)
    weights = classifier.coef_.astype(np.float32)
    dim = vectors.shape[1]
    return IntentModel(
        dense=weights[:, :dim],
        sparse=weights[:, dim:],
        bias=classifier.intercept_.astype(np.float32),
        thresholds={},
        embedding="",
    )


def probabilities(model: IntentModel, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    """One row of label probabilities per text."""
    return np.array(
        [
            [model.probabilities(t, v)[label] for label in LABELS]
            for t, v in zip(texts, vectors, strict=True)
        ]
    )


def choose_thresholds(
    probs: np.ndarray, labels: Sequence[str], langs: Sequence[str]
) -> dict[str, float]:
    """Per language and safety class, the lowest threshold within its false-alarm budget on tune.

    English thresholds are stored under the plain names (the default for any language);
    every other language's under "<lang>:<name>".
    """
    chosen: dict[str, float] = {}
    for lang in sorted(set(langs)):
        mine = np.array(langs) == lang
        prefix = "" if lang == "en" else f"{lang}:"
        budget = FALSE_ALARM_BUDGET.get(lang, FALSE_ALARM_BUDGET["en"])
        for name, value in _thresholds(probs[mine], np.array(labels)[mine], budget).items():
            chosen[prefix + name] = value
    return chosen


def _thresholds(probs: np.ndarray, y: np.ndarray, budget: dict[str, float]) -> dict[str, float]:
    education = y == "education"
    crisis = np.isin(y, EMERGENCY)
    emergency = probs[:, LABELS.index("medical_emergency")] + probs[:, LABELS.index("self_harm")]
    scores = {
        "emergency": emergency,
        "dosing_advice": probs[:, LABELS.index("dosing_advice")],
        "illicit_use": probs[:, LABELS.index("illicit_use")],
    }
    chosen = {}
    for name, score in scores.items():
        chosen[name] = _within(score[education], budget[name])
    # Crises first: where the budget leaves tune emergencies below the recall target, lower the
    # threshold until the target is met, but never past the over-refusal ceiling.
    recall_at = float(np.quantile(emergency[crisis], 1 - EMERGENCY_RECALL)) if crisis.any() else 1
    if recall_at < chosen["emergency"]:
        ceiling = _within(emergency[education], FALSE_ALARM_CEILING)
        chosen["emergency"] = max(recall_at, ceiling)
    chosen["off_topic"] = OFF_TOPIC_FLOOR
    return chosen


def _within(alarms: np.ndarray, budget: float) -> float:
    """The lowest threshold that at most ``budget`` of these education scores reach."""
    ranked = np.sort(alarms)[::-1]
    allowed = int(np.floor(budget * len(ranked)))
    return float(min(max(ranked[allowed] + 1e-4, 0.05), 0.9))


def decide_label(row: np.ndarray, thresholds: dict[str, float]) -> str:
    """The model's own verdict under the policy order (used for its figures, not in production)."""
    p = dict(zip(LABELS, row, strict=True))
    if p["medical_emergency"] + p["self_harm"] >= thresholds["emergency"]:
        return max(EMERGENCY, key=lambda label: p[label])
    for label in ("dosing_advice", "illicit_use", "off_topic"):
        if p[label] >= thresholds[label]:
            return label
    return "education"


def figures(
    examples: Sequence[Example], probs: np.ndarray, thresholds: dict[str, float]
) -> dict[str, dict[str, str]]:
    """Recall per class and over-refusal of education, per language, as "hits/total"."""
    out: dict[str, dict[str, str]] = {}
    for lang in sorted({e.lang for e in examples}):
        hits: Counter[str] = Counter()
        totals: Counter[str] = Counter()
        for example, row in zip(examples, probs, strict=True):
            if example.lang != lang:
                continue
            got = decide_label(row, thresholds_for(thresholds, lang))
            key = "emergency" if example.label in EMERGENCY else example.label
            totals[key] += 1
            if key == "education":
                hits[key] += got in ("dosing_advice", "illicit_use", *EMERGENCY)
            else:
                hits[key] += got == example.label or (key == "emergency" and got in EMERGENCY)
        out[lang] = {
            ("over_refusal" if k == "education" else k): f"{hits[k]}/{totals[k]}" for k in totals
        }
    return out


def train(
    folder: Path, embedder: Embedder, say: Callable[[str], None] = print
) -> tuple[IntentModel, dict[str, object]]:
    """Train on ``train``, choose thresholds on ``tune``, report ``test``.

    The shipped model is exactly the one the test figures describe: refitting on every
    family would move its probabilities away from the thresholds chosen for it.
    """
    examples = load_examples(folder)
    texts, vectors = featurize(examples, embedder)
    parts = {
        s: [i for i, e in enumerate(examples) if e.split == s] for s in ("train", "tune", "test")
    }
    say(", ".join(f"{s}: {len(ix)} messages" for s, ix in parts.items()))

    def subset(ix: list[int]) -> tuple[list[str], np.ndarray, list[str]]:
        return [texts[i] for i in ix], vectors[ix], [examples[i].label for i in ix]

    model = fit(*subset(parts["train"]))
    choosing = [i for i in parts["tune"] if not examples[i].family.startswith(NOT_FOR_BUDGETS)]
    tune_t, tune_v, tune_y = subset(choosing)
    tune_langs = [examples[i].lang for i in choosing]
    thresholds = choose_thresholds(probabilities(model, tune_t, tune_v), tune_y, tune_langs)
    test_t, test_v, _ = subset(parts["test"])
    test_probs = probabilities(model, test_t, test_v)
    report = {
        "messages": len(examples),
        "split_sizes": {s: len(ix) for s, ix in parts.items()},
        "families": len({e.family for e in examples}),
        "thresholds": thresholds,
        "test": figures([examples[i] for i in parts["test"]], test_probs, thresholds),
    }
    shipped = IntentModel(model.dense, model.sparse, model.bias, thresholds, embedder.name)
    return shipped, report
