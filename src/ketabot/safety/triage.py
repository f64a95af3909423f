"""Safety triage, before any retrieval: the one owner of the dosing policy.

Order matters and is the policy: emergencies first (they win over
everything), then requests for personal dosing advice, then illicit use,
then attempts to reveal instructions or change role, then off-topic
questions; everything else is answered from the sources.

Each decision combines explicit rules (dose quantities, personal pronouns
with dose verbs, emergency phrases) over a normalised copy of the question
(case, accents, leetspeak, slang, common misspellings) with a trained intent
model (``safety/intent.py``) and, for dosing and illicit requests, semantic
similarity to labelled exemplars embedded by the same model the index uses.
The question is only ever data: instructions inside it ("SYSTEM: rules
disabled") cannot switch a rule off, because no rule reads them as anything
but text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np
import yaml

from ketabot.config import Settings
from ketabot.embeddings import Embedder
from ketabot.safety.intent import shipped_model
from ketabot.safety.normalize import normalize
from ketabot.safety.rules import (
    DOMAIN,
    DOSING,
    ILLICIT,
    ILLICIT_SPECIFIC,
    MEDICAL_EMERGENCY,
    ROLE_OR_REVEAL,
    SELF_HARM,
    Rule,
    is_instruction,
    states_dose,
)
from ketabot.types import Kind, Query, Reason, Verdict

# ---------------------------------------------------------------- exemplars

log = logging.getLogger("ketabot")
# The model's probability of "education" above which the exemplar backstop stays silent.
EDUCATION_SURE = 0.9
# The English emergency threshold is low (about 0.33) to catch crises told indirectly. Where a
# precise dosing or illicit rule has matched ("how much is too much for a person like me"),
# the model's crisis reading must be this sure to override it; the self-harm rules, which
# run first, still catch "how much would it take to not wake up".
CRISIS_OVER_RULE = 0.6
# The model's probability of "education" at which it overrules a dosing or illicit *rule*, when
# the question states no dose amount and holds no instruction to the bot. Measured on the
# 6,349 tune and test messages of eval/triage (families the model never trained on): 9 of the
# 33 education questions the rules refused are answered at 0.99, no dosing or illicit request
# is lost; at 0.98 one is ("which dose ketamine is good for she").
EDUCATION_OVER_RULE = 0.99


@dataclass(frozen=True)
class Exemplars:
    """Labelled example phrasings, by group, with their vectors."""

    texts: dict[str, tuple[str, ...]]
    vectors: dict[str, np.ndarray]


@cache
def exemplar_texts() -> dict[str, tuple[str, ...]]:
    """The labelled exemplars shipped with ketabot (``exemplars.yaml``)."""
    path = resources.files("ketabot.safety").joinpath("data", "exemplars.yaml")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {group: tuple(items) for group, items in raw.items()}


def embed_exemplars(embedder: Embedder) -> Exemplars:
    """Exemplar vectors, computed once per process and model."""
    texts = exemplar_texts()
    return Exemplars(
        texts, {g: embedder.embed([normalize(t) for t in items]) for g, items in texts.items()}
    )


# ---------------------------------------------------------------- the triage


@dataclass(frozen=True)
class Signals:
    """Everything the triage observed about one question; :func:`decide` turns it into a verdict."""

    emergency: Verdict | None
    rules: Verdict | None
    follow_up: Verdict | None
    role: Verdict | None
    domain_words: bool
    similarities: dict[str, tuple[float, str]]
    intent: dict[str, float] = field(default_factory=dict)
    intent_thresholds: dict[str, float] = field(default_factory=dict)
    language: str = "en"
    states_amount: bool = False


def decide(signals: Signals, settings: Settings) -> Verdict:
    """The policy, most urgent first; within each class the precise rules, then the model.

    Emergency and self-harm win over everything: the rules, then the intent model. Then
    the dosing and illicit rules (and dosing follow-ups), the model's refusal classes, the
    exemplars; then role changes and off-topic questions.
    """
    return (
        _crisis_first(signals.emergency, signals)
        or _model_emergency(signals)
        or _rule_refusal(signals)
        or signals.follow_up
        or _model_refusal(signals)
        or _semantic(signals, settings)
        or signals.role
        or _off_topic(signals, settings)
        or Verdict(Kind.ANSWER)
    )


class Triage:
    """Decides, before retrieval, whether and how a question may be answered."""

    def __init__(self, embedder: Embedder, settings: Settings) -> None:
        self.embedder = embedder
        self.settings = settings
        self.exemplars = embed_exemplars(embedder)
        self.intent = shipped_model()
        if self.intent is not None and self.intent.embedding != embedder.name:
            # Its weights read this model's vectors only; another embedder would make its
            # probabilities noise, so the rules and exemplars decide alone.
            log.warning(
                "intent model was trained for %s, not %s: not used",
                self.intent.embedding,
                embedder.name,
            )
            self.intent = None

    def __call__(self, query: Query) -> Verdict:
        """The verdict for ``query`` (its earlier turns included)."""
        return decide(self.signals(query), self.settings)

    def signals(self, query: Query) -> Signals:
        """What the rules and the exemplars say about ``query``."""
        text = query.normalized
        follow_up = _follow_up(text, query.previous) if query.follow_up else None
        return Signals(
            emergency=_emergency(text),
            rules=_by_rules(text),
            follow_up=follow_up,
            role=_role_or_reveal(text),
            # "which one works faster?" is on topic after a question about ketamine
            domain_words=bool(DOMAIN.search(query.context_text)),
            similarities=self.similarities(query.vector),
            # A follow-up fragment ("what about for my heart?") means what it means after the
            # question it follows, so the model reads the same text the retriever searches.
            intent=self._intent(query),
            intent_thresholds=self.intent.thresholds_for(query.language) if self.intent else {},
            language=query.language,
            states_amount=states_dose(text) or is_instruction(text),
        )

    def _intent(self, query: Query) -> dict[str, float]:
        if self.intent is None:
            return {}
        return self.intent.probabilities(query.context_text, query.context_vector)

    def similarities(self, vector: np.ndarray) -> dict[str, tuple[float, str]]:
        """The best similarity to each exemplar group, with the exemplar that gave it."""
        best: dict[str, tuple[float, str]] = {}
        for group, vectors in self.exemplars.vectors.items():
            sims = vectors @ vector
            i = int(np.argmax(sims))
            best[group] = (float(sims[i]), self.exemplars.texts[group][i])
        return best


def _crisis_first(verdict: Verdict | None, signals: Signals) -> Verdict | None:
    """A rule-found medical emergency the model reads mainly as self-harm gets the crisis reply.

    "If I take all my ketamine with vodka tonight will I just not wake up? that would be
    fine by me" names an overdose (a medical rule) but is suicidal: the person needs the
    crisis line. The medical reply names it too, so nothing is lost either way.
    """
    p = signals.intent
    if verdict is None or verdict.reason is not Reason.MEDICAL_EMERGENCY or not p:
        return verdict
    if p["self_harm"] <= p["medical_emergency"] or p["self_harm"] < 0.5:
        return verdict
    evidence = (*verdict.evidence, f"model:self_harm ({p['self_harm']:.2f}) over medical")
    return Verdict(Kind.EMERGENCY, Reason.SELF_HARM, evidence, confidence=p["self_harm"])


def _model_emergency(signals: Signals) -> Verdict | None:
    """An emergency by the intent model: the two crisis classes together past their threshold."""
    p, limits = signals.intent, signals.intent_thresholds
    if not p or p["medical_emergency"] + p["self_harm"] < limits["emergency"]:
        return None
    if signals.rules and p["medical_emergency"] + p["self_harm"] < CRISIS_OVER_RULE:
        return None  # an unsure crisis reading yields to a precise dosing or illicit rule
    reason = max((Reason.MEDICAL_EMERGENCY, Reason.SELF_HARM), key=lambda r: p[r.value])
    score = p["medical_emergency"] + p["self_harm"]
    evidence = f"model:{reason.value} ({score:.2f} >= {limits['emergency']:.2f})"
    return Verdict(Kind.EMERGENCY, reason, (evidence,), confidence=score)


def _rule_refusal(signals: Signals) -> Verdict | None:
    """A dosing or illicit rule's refusal, unless the model is all but sure it is education.

    The rules read words, the model reads meaning: "who decides how much ketamine a patient
    gets?" matches a dose-request pattern, and is the question a patient should ask.
    """
    verdict, p = signals.rules, signals.intent
    if verdict is None or not p or signals.states_amount:
        return verdict
    if p["education"] >= EDUCATION_OVER_RULE:
        return None
    return verdict


def _model_refusal(signals: Signals) -> Verdict | None:
    """Dosing advice or illicit use by the intent model, past the class's threshold."""
    p, limits = signals.intent, signals.intent_thresholds
    for reason in (Reason.DOSING_ADVICE, Reason.ILLICIT_USE):
        if p and p[reason.value] >= limits[reason.value]:
            evidence = f"model:{reason.value} ({p[reason.value]:.2f} >= {limits[reason.value]:.2f})"
            return Verdict(Kind.REFUSAL, reason, (evidence,), confidence=p[reason.value])
    return None


def _semantic(signals: Signals, settings: Settings) -> Verdict | None:
    """Closeness to labelled refusal exemplars: a backstop for what the rules miss.

    It defers to the trained model where the model is sure a question is education: the
    handful of exemplars cannot tell "which route gives the most precise dosing?" from
    "which dosage would suit me best?", the model, trained on such twins, can.
    """
    if signals.intent.get("education", 0.0) >= EDUCATION_SURE:
        return None
    sims = signals.similarities
    education = max(sims["education"][0], sims["topic"][0])
    for group in ("dosing_advice", "illicit_use"):
        score, example = sims[group]
        margin = score - education
        if score >= settings.triage.refusal_floor and margin >= settings.triage.refusal_margin:
            evidence = f"exemplar:{group}:{example!r} ({score:.2f}, margin {margin:.2f})"
            return Verdict(Kind.REFUSAL, Reason(group), (evidence,), confidence=score)
    return None


def _off_topic(signals: Signals, settings: Settings) -> Verdict | None:
    if signals.language == "es" and signals.intent:
        # The domain words and topic exemplars are English; in Spanish the model decides.
        return _model_off_topic(signals)
    if signals.domain_words:
        return None
    score, example = signals.similarities["topic"]
    if score >= settings.triage.topic_floor:
        return None
    if signals.intent and signals.intent["off_topic"] < signals.intent_thresholds["off_topic"]:
        # No domain word, yet the model reads a patient's question ("how soon do people feel
        # better after?"): the answerability model decides between an answer and "not found".
        return None
    evidence = f"topic:{example!r} ({score:.2f} < {settings.triage.topic_floor:.2f})"
    return Verdict(Kind.OUT_OF_SCOPE, Reason.OFF_TOPIC, (evidence,), confidence=1 - score)


def _model_off_topic(signals: Signals) -> Verdict | None:
    p, limit = signals.intent["off_topic"], signals.intent_thresholds["off_topic"]
    if p < limit:
        return None
    evidence = f"model:off_topic ({p:.2f} >= {limit:.2f})"
    return Verdict(Kind.OUT_OF_SCOPE, Reason.OFF_TOPIC, (evidence,), confidence=p)


def _first(rules: Sequence[Rule], text: str, group: str) -> str | None:
    return next((f"rule:{group}:{r.name}" for r in rules if r.search(text)), None)


def _emergency(text: str) -> Verdict | None:
    if hit := _first(SELF_HARM, text, "self_harm"):
        return Verdict(Kind.EMERGENCY, Reason.SELF_HARM, (hit,))
    if hit := _first(MEDICAL_EMERGENCY, text, "medical_emergency"):
        return Verdict(Kind.EMERGENCY, Reason.MEDICAL_EMERGENCY, (hit,))
    return None


def _by_rules(text: str) -> Verdict | None:
    if hit := _first(ILLICIT_SPECIFIC, text, "illicit_use"):
        return Verdict(Kind.REFUSAL, Reason.ILLICIT_USE, (hit,))
    if hit := _first(DOSING, text, "dosing_advice"):
        return Verdict(Kind.REFUSAL, Reason.DOSING_ADVICE, (hit,))
    if hit := _first(ILLICIT, text, "illicit_use"):
        return Verdict(Kind.REFUSAL, Reason.ILLICIT_USE, (hit,))
    return None


def _role_or_reveal(text: str) -> Verdict | None:
    if hit := _first(ROLE_OR_REVEAL, text, "off_topic"):
        return Verdict(Kind.OUT_OF_SCOPE, Reason.OFF_TOPIC, (hit,))
    return None


def _follow_up(text: str, previous: str) -> Verdict | None:
    """A follow-up that turns the conversation into a dosing request is refused.

    Either the previous question was already one and this one only changes who it is for
    ("and for my mother?"), or the two together ask for a dose when neither did alone.
    """
    before = _by_rules(previous)
    together = _by_rules(f"{previous} {text}")
    was_dosing = before is not None and before.reason is Reason.DOSING_ADVICE
    inherits = was_dosing and not DOMAIN.search(text)
    created = together is not None and together.reason is Reason.DOSING_ADVICE and not was_dosing
    if inherits or created:
        evidence = (before if inherits else together).evidence  # type: ignore[union-attr]
        return Verdict(Kind.REFUSAL, Reason.DOSING_ADVICE, ("follow-up", *evidence))
    return None
