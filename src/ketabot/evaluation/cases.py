"""The labelled cases in ``eval/``: what kind of reply each question must get.

``eval/retrieval.yaml`` holds answerable questions with the passages that
answer them; ``eval/safety.yaml`` holds every other category. Each case is
in the ``tune`` split (thresholds may be chosen on it) or the ``holdout``
split (never used for choosing anything; reported separately).
``eval/probes.yaml`` holds the ``probe`` split: questions written after the
rules were frozen, with their first, blind results recorded in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ketabot.types import Kind, Reason

EXPECTED: dict[str, tuple[Kind, Reason | None]] = {
    "answerable": (Kind.ANSWER, None),
    "dose_education": (Kind.ANSWER, None),
    "education_twin": (Kind.ANSWER, None),
    # education questions of the blind rounds: what counts for safety is "never refused"
    "education": (Kind.ANSWER, None),
    "dosing_advice": (Kind.REFUSAL, Reason.DOSING_ADVICE),
    "emergency": (Kind.EMERGENCY, None),
    "illicit": (Kind.REFUSAL, Reason.ILLICIT_USE),
    "off_topic": (Kind.OUT_OF_SCOPE, Reason.OFF_TOPIC),
    "not_covered": (Kind.NOT_FOUND, None),
}
SPLITS = ("tune", "holdout", "probe", "blind", "blind_es", "blind_answers")
# A blind round's categories, as the evaluation's categories (and reason, where fixed).
BLIND_CATEGORY: dict[str, tuple[str, Reason | None]] = {
    "medical_emergency": ("emergency", Reason.MEDICAL_EMERGENCY),
    "self_harm": ("emergency", Reason.SELF_HARM),
    "dosing_advice": ("dosing_advice", None),
    "illicit_use": ("illicit", None),
    "off_topic": ("off_topic", None),
    "not_covered": ("not_covered", None),
    "education": ("education", None),
    "answerable": ("answerable", None),
    "dose_education": ("dose_education", None),
}


@dataclass(frozen=True)
class Case:
    """One labelled question."""

    id: str
    question: str
    category: str
    split: str
    history: tuple[str, ...] = ()
    reason: Reason | None = None
    pair: str | None = None
    passages: tuple[str, ...] = ()

    @property
    def expected_kind(self) -> Kind:
        """The reply kind this case must get."""
        return EXPECTED[self.category][0]

    @property
    def expected_reason(self) -> Reason | None:
        """The reason it must carry, where the category fixes one."""
        return self.reason or EXPECTED[self.category][1]


def load_cases(folder: Path) -> list[Case]:
    """Every case in ``folder``: retrieval cases count as answerable education questions."""
    cases = [
        Case(
            id=item["id"],
            question=item["question"],
            category="answerable",
            split=item["split"],
            passages=tuple(item["passages"]),
        )
        for item in _read(folder / "retrieval.yaml")
    ]
    probes = folder / "probes.yaml"
    for path in [folder / "safety.yaml", *([probes] if probes.exists() else [])]:
        cases += [
            Case(
                id=item["id"],
                question=item["question"],
                category=item["category"],
                split=item["split"],
                history=tuple(item.get("history", ())),
                reason=Reason(item["reason"]) if item.get("reason") else None,
                pair=item.get("pair"),
            )
            for item in _read(path)
        ]
    return cases + blind_cases(folder / "blind")


def for_baseline(cases: list[Case]) -> list[Case]:
    """The cases the baseline comparison reads: not the blind safety rounds.

    The baseline has no triage, so it "answers" every one of them; running it over the
    rounds would cost minutes and show nothing the held-out split does not.
    """
    return [c for c in cases if not c.split.startswith("blind")]


def blind_cases(folder: Path) -> list[Case]:
    """The blind rounds already scored once (their first result is recorded), as cases.

    A sealed round (no ``.first.json`` yet) is never read: its first score must be blind.
    English items of safety rounds form the ``blind`` split, Spanish ones ``blind_es``;
    answer rounds (``answer-r*``) form ``blind_answers``, their expected phrases counting
    as the passages that answer.
    """
    cases = []
    for path in sorted(folder.glob("*.yaml")):
        if not path.with_suffix(".first.json").exists():
            continue
        for item in _read(path):
            category, reason = BLIND_CATEGORY[item["category"]]
            cases.append(
                Case(
                    id=item["id"],
                    question=item["question"],
                    category=category,
                    split=_blind_split(path, item),
                    history=tuple(item.get("history") or ()),
                    reason=reason,
                    passages=tuple(item.get("expected") or ()),
                )
            )
    return cases


def _blind_split(path: Path, item: dict[str, Any]) -> str:
    if path.name.startswith("answer-"):
        return "blind_answers"
    return "blind_es" if item.get("lang") == "es" else "blind"


def _read(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return list(yaml.safe_load(handle))


def source_texts(corpus: Path) -> dict[str, str]:
    """Each document id's source text, for checking that quotes are verbatim.

    A text file is checked against the file itself; a PDF, Word or HTML file against the
    text its reader produced (the file's bytes are not text).
    """
    from ketabot.corpus import TEXT_SUFFIXES, load_corpus

    return {
        doc.id: (
            doc.path.read_text(encoding="utf-8")
            if doc.path.suffix.lower() in TEXT_SUFFIXES
            else doc.body
        )
        for doc in load_corpus(corpus)
    }
