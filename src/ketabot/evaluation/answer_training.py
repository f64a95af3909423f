"""``ketabot train-answers``: the answerability model from ``eval/answerability/``.

Each labelled question goes through the production path: ``Bot.query`` (check,
normalise, follow-up, embed), the retriever over every passage, the composer's
quotable sentences with their stored vectors, and :func:`~ketabot.answer.pair_scalars`.
Only sentences of the question's own article are labelled (its writer saw only that
article), so only they are trained on: an answer sentence is a positive, every other
sentence of the article a negative, and a not-covered question has no positive.

Training is listwise with abstention: for each question, a softmax over its sentences
and one "the sources do not answer" choice; the loss is minus the log of the probability
of the answer sentences, or of abstaining. Generalisation to documents the model never
saw is measured leave-one-document-out (train on four articles, test on the fifth), and
the shipped threshold is chosen on those out-of-document predictions. The shipped model
is then fitted on all five articles.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ketabot.answer import pair_scalars
from ketabot.answerability import SCALARS, AnswerModel
from ketabot.bot import Bot
from ketabot.chunking import sentence_keys
from ketabot.corpus import front_matter, is_source_file
from ketabot.text import sentence_spans

SEED = 20261121
RANK = 32  # 16-128 measured alike leave-one-document-out; 32 is the smallest of the best
EPOCHS = 8
BATCH = 32
LEARNING_RATE = 0.01
WEIGHT_DECAY = 1e-4
# Where the abstention score starts: about the scaled cosine of a loosely related sentence.
ABSTAIN_START = 7.0
SCALE_START = 10.0
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))


@dataclass(frozen=True)
class Example:
    """One labelled question with its article's candidate sentences."""

    doc: str
    style: str
    vector: np.ndarray
    sentences: np.ndarray  # (candidates, dimension)
    scalars: np.ndarray  # (candidates, len(SCALARS))
    answers: np.ndarray  # (candidates,) bool

    @property
    def answerable(self) -> bool:
        """Whether some sentence of its article answers it."""
        return bool(self.answers.any())


def load_rows(folder: Path) -> list[dict[str, Any]]:
    """Every labelled question in ``folder/*.jsonl``."""
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def blind_rows(blind: Path, corpus: Path, bot: Bot) -> list[dict[str, Any]]:
    """The answer rounds already scored once (``answer-r*.first.json`` kept), as labelled rows.

    A sealed round is never read, so it stays blind. An answerable item gives one row for
    each article with a sentence that carries one of its ``expected`` phrases (as the blind
    score reads them; since round 10 the writers list every answering sentence, in any
    article), its source first. A not-covered item has none, and is set against the article
    the search ranks first, whose sentences are its hardest negatives.
    """
    docs = _seed_documents(corpus)
    rows = []
    for path in sorted(blind.glob("answer-r*.yaml")):
        if not path.with_suffix(".first.json").exists():
            continue
        for item in yaml.safe_load(path.read_text(encoding="utf-8")):
            row = {
                "question": item["question"],
                "history": item.get("history") or [],
                "style": f"blind_{item['category']}",
            }
            if item["category"] == "not_covered":
                rows.append(row | {"doc": _first_document(bot, item), "answers": []})
                continue
            source = docs.get(Path(item.get("source") or "").name)
            carrying = _carrying(bot, item.get("expected") or [])
            # No sentence, as the corpus splits them, carrying a phrase: no label, left out.
            for doc in sorted(carrying, key=lambda d: d != source):
                rows.append(row | {"doc": doc, "answers": carrying[doc]})
    return rows


def _seed_documents(corpus: Path) -> dict[str, str]:
    """Seed file name -> corpus document id, from the front matter's ``source``."""
    metas = (front_matter(p) for p in sorted(corpus.glob("*.md")) if is_source_file(p))
    return {Path(m["source"]).name: m["id"] for m in metas if m.get("source")}


def _first_document(bot: Bot, item: dict[str, Any]) -> str:
    query = bot.query(item["question"], item.get("history") or [])
    return bot.retriever.search(query, limit=1).passages[0].chunk.doc_id


def _carrying(bot: Bot, phrases: Sequence[str]) -> dict[str, list[str]]:
    """Per article, its sentences inside an expected phrase or holding one."""
    wanted = [_flat(p).casefold() for p in phrases]
    out: dict[str, list[str]] = {}
    for chunk in bot.retriever.snapshot.chunks:
        for start, end in sentence_spans(chunk.text):
            sentence = _flat(chunk.text[start:end])
            if any(sentence.casefold() in w or w in sentence.casefold() for w in wanted):
                out.setdefault(chunk.doc_id, []).append(sentence)
    return out


def examples(bot: Bot, rows: Sequence[dict[str, Any]]) -> list[Example]:
    """The rows as the model sees them in production; rows whose article is absent are skipped."""
    retriever = bot.retriever
    chunks = retriever.snapshot.chunks
    stored = retriever.sentence_vectors([k for c in chunks for k in sentence_keys(c)])
    out = []
    for row in rows:
        query = bot.query(row["question"], row.get("history") or [])
        found = retriever.search(query, limit=len(chunks))
        units = bot.composer.units(
            found.passages, lambda keys: {k: stored[k] for k in keys if k in stored}
        )
        mine = [u for u in units if u.chunk.doc_id == row["doc"]]
        if not mine:
            continue
        answers = [_flat(a) for a in row["answers"]]
        out.append(
            Example(
                doc=str(row["doc"]),
                style=str(row["style"]),
                vector=query.search_vector,
                sentences=np.vstack([u.vector for u in mine]),
                scalars=pair_scalars(found, mine, retriever.lexical.stems),
                answers=np.array([_answers(_flat(u.text), answers) for u in mine]),
            )
        )
    return out


def _flat(text: str) -> str:
    return " ".join(text.split())


def _answers(sentence: str, answers: Sequence[str]) -> bool:
    """The labels quote whole sentences; the corpus may split a sentence differently."""
    return any(sentence in a or a in sentence for a in answers)


def fit(train: Sequence[Example], embedding: str) -> AnswerModel:
    """The adapter, weights and abstention score fitted listwise on ``train`` (seeded)."""
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    dimension = train[0].vector.shape[0]
    down = torch.nn.Parameter(torch.randn(RANK, dimension) * 0.01)
    up = torch.nn.Parameter(torch.zeros(dimension, RANK))
    scale = torch.nn.Parameter(torch.tensor(SCALE_START))
    weights = torch.nn.Parameter(torch.zeros(len(SCALARS)))
    abstain = torch.nn.Parameter(torch.tensor(ABSTAIN_START))
    tensors = [
        (
            torch.from_numpy(e.vector.astype(np.float32)),
            torch.from_numpy(e.sentences.astype(np.float32)),
            torch.from_numpy(e.scalars),
            torch.from_numpy(e.answers),
        )
        for e in train
    ]
    optimiser = torch.optim.Adam([down, up, scale, weights, abstain], lr=LEARNING_RATE)
    order = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        permutation = torch.randperm(len(tensors), generator=order).tolist()
        for start in range(0, len(permutation), BATCH):
            loss = torch.zeros(())
            for i in permutation[start : start + BATCH]:
                q, sentences, scalars, answers = tensors[i]
                moved = q + up @ (down @ q)
                logits = (sentences @ (moved / moved.norm())) * scale + scalars @ weights
                everything = torch.logsumexp(torch.cat([logits, abstain.view(1)]), 0)
                chosen = torch.logsumexp(logits[answers], 0) if answers.any() else abstain
                loss = loss + everything - chosen
            penalty = WEIGHT_DECAY * (down.pow(2).sum() + up.pow(2).sum())
            optimiser.zero_grad()
            (loss / BATCH + penalty).backward()
            optimiser.step()
    return AnswerModel(
        down=down.detach().numpy().copy(),
        up=up.detach().numpy().copy(),
        scale=float(scale.detach()),
        weights=weights.detach().numpy().copy(),
        abstain=float(abstain.detach()),
        threshold=0.5,
        embedding=embedding,
    )


def outcome(model: AnswerModel, example: Example, threshold: float) -> bool:
    """Right for this question: an answer among the (at most 3) quotes, or abstained."""
    chances = model.probabilities(example.vector, example.sentences, example.scalars)
    if not example.answerable:
        return bool(chances.max(initial=0.0) < threshold)
    top = np.argsort(-chances)[:3]
    return bool(any(example.answers[i] and chances[i] >= threshold for i in top))


def figures(results: Sequence[tuple[Example, bool]]) -> dict[str, str]:
    """Right/total per style, answerable and not covered."""
    total: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for example, ok in results:
        for key in (example.style, "answerable" if example.answerable else "not_covered_here"):
            total[key] += 1
            right[key] += ok
    return {key: f"{right[key]}/{total[key]}" for key in sorted(total)}


def train(
    data: Path, bot: Bot, say: Callable[[str], None] = print, blind: Path | None = None
) -> tuple[AnswerModel, dict[str, object]]:
    """Leave-one-document-out figures, the threshold they choose, and the shipped model.

    ``blind`` adds the answer rounds whose first result is recorded (:func:`blind_rows`).
    """
    say("Reading the labelled questions through the production path ...")
    rows = load_rows(data)
    if blind is not None:
        rows += blind_rows(blind, bot.settings.corpus, bot)
    labelled = examples(bot, rows)
    docs = sorted({e.doc for e in labelled})
    held_out: list[tuple[AnswerModel, Example]] = []
    for doc in docs:
        say(f"Leave-one-document-out: testing on {doc} ...")
        model = fit([e for e in labelled if e.doc != doc], bot.embedder.name)
        held_out += [(model, e) for e in labelled if e.doc == doc]
    threshold = _balanced_threshold(held_out)
    lodo = figures([(e, outcome(m, e, threshold)) for m, e in held_out])
    say(f"Fitting the shipped model on all {len(labelled)} questions ...")
    shipped = fit(labelled, bot.embedder.name)
    shipped = AnswerModel(**{**shipped.__dict__, "threshold": threshold})
    report: dict[str, object] = {
        "questions": len(labelled),
        "documents": docs,
        "threshold": threshold,
        "leave_one_document_out": lodo,
        "in_sample": figures([(e, outcome(shipped, e, threshold)) for e in labelled]),
    }
    return shipped, report


def _balanced_threshold(held_out: Sequence[tuple[AnswerModel, Example]]) -> float:
    """The threshold with the best mean of answerable and not-covered accuracy, out of document."""

    def balanced(threshold: float) -> float:
        rates = []
        for answerable in (True, False):
            group = [(m, e) for m, e in held_out if e.answerable is answerable]
            rates.append(sum(outcome(m, e, threshold) for m, e in group) / max(len(group), 1))
        return sum(rates) / 2

    return max(THRESHOLDS, key=balanced)
