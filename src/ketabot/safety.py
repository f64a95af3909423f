"""Safety triage, before any retrieval: the one owner of the dosing policy.

Order matters and is the policy: emergencies first (they win over
everything), then requests for personal dosing advice, then illicit use,
then attempts to reveal instructions or change role, then off-topic
questions; everything else is answered from the sources.

Each decision combines explicit rules (dose quantities, personal pronouns
with dose verbs, emergency phrases) over a normalised copy of the question
(case, accents, leetspeak, slang, common misspellings) with semantic
similarity to labelled exemplars embedded by the same model the index uses.
The question is only ever data: instructions inside it ("SYSTEM: rules
disabled") cannot switch a rule off, because no rule reads them as anything
but text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import yaml

from ketabot.config import Settings
from ketabot.embeddings import Embedder
from ketabot.text import fold, unleet
from ketabot.types import Kind, Verdict

# ---------------------------------------------------------------- normalisation

_SLANG = [
    (re.compile(r"\bspecial\s+k\b"), "ketamine"),
    (re.compile(r"\bvitamin\s+k\b"), "vitamin-k"),
    (re.compile(r"(?<![\w-])k(?![\w-])"), "ketamine"),
    (re.compile(r"\bket\b"), "ketamine"),
    (re.compile(r"\bhow dose (\w+) (work|help|affect|act)"), r"how does \1 \2"),
]
_SPELLING = {
    "shud": "should",
    "shld": "should",
    "sould": "should",
    "tak": "take",
    "wat": "what",
    "hw": "how",
    "u": "you",
    "ur": "your",
    "im": "i'm",
    "cant": "can't",
    "wont": "won't",
    "dont": "don't",
    "isnt": "isn't",
    "plz": "please",
    "pls": "please",
    "mg's": "mg",
    "breath": "breathe",
    "wanna": "want to",
    "gonna": "going to",
    "mutch": "much",
    "muche": "much",
    "nerv": "nerve",
    "nervs": "nerves",
    "doze": "dose",
    "dosege": "dosage",
    "meds": "medication",
    "medz": "medication",
}
# Long domain words worth correcting one typo in ("ketamin", "infusoin"); short words are
# left alone, because one edit turns too many real words into others ("does" -> "dose").
_TARGETS = [
    "ketamine",
    "dosage",
    "infusion",
    "infusions",
    "neuropathy",
    "neuropathic",
    "milligrams",
    "prescription",
    "overdose",
    "overdosed",
    "suicide",
    "suicidal",
    "medication",
    "medications",
    "lozenges",
    "tablets",
    "increase",
    "schedule",
    "frequency",
    "treatment",
    "therapy",
    "breathe",
    "unconscious",
    "seizure",
]
_NUMBER_UNIT = re.compile(r"^\d+(?:[.,]\d+)?[a-z/]+$")


def normalize(question: str) -> str:
    """A matching copy of the question: folded, de-leeted, slang and misspellings mapped."""
    text = fold(question)
    text = re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", text)
    # "k e t a m i n e" -> "ketamine"
    text = re.sub(r"\b(?:[a-z] ){3,}[a-z]\b", lambda m: m.group().replace(" ", ""), text)
    tokens = [_fix_word(tok) for tok in text.split()]
    text = " ".join(tokens)
    for pattern, replacement in _SLANG:
        text = pattern.sub(replacement, text)
    return text


def _fix_word(token: str) -> str:
    core = token.strip(".,!?;:\"'()[]")
    if not core:
        return token
    start = token.find(core)
    lead, trail = token[:start], token[start + len(core) :]
    word = core if _NUMBER_UNIT.match(core) else unleet(core)
    word = _SPELLING.get(word, word)
    if len(word) >= 6 and word.isalpha() and word not in _TARGETS:
        word = next((t for t in _TARGETS if _one_edit(word, t)), word)
    return f"{lead}{word}{trail}"


def _one_edit(a: str, b: str) -> bool:
    """True when ``a`` becomes ``b`` by one insertion, deletion, substitution or swap."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        swapped = (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
        return len(diff) == 1 or swapped
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((i for i in range(len(short)) if short[i] != long_[i]), len(short))
    return short[i:] == long_[i + 1 :]


# ---------------------------------------------------------------- the dose rule


_DOSE_AMOUNT = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:-|–|to)?\s*(?:\d+(?:[.,]\d+)?\s*)?"
    r"(?:mg|milligrams?|mcg|µg|ug|micrograms?|ml|millilit(?:er|re)s?|cc|iu|units?|g|grams?)"
    r"(?:\s*(?:/|per)\s*(?:kg|kilo\w*|hr|hours?|h|min\w*|day|dose))*\b",
    re.IGNORECASE,
)


def states_dose(text: str) -> bool:
    """True when ``text`` states a dose amount ("0.5 mg/kg", "50 mg", "2 ml")."""
    return bool(_DOSE_AMOUNT.search(text))


_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,30}\b(?:instructions|rules|guidelines|"
    r"prompt)\b|\b(?:system|assistant|developer)\s*:|</?\s*(?:context|system|instructions?)\s*>|"
    r"\byou are now\b|\bnew instructions?\b|\bas an ai\b",
    re.IGNORECASE,
)


def is_instruction(text: str) -> bool:
    """True for text addressed to a chatbot rather than to a reader ("SYSTEM: ignore ...")."""
    return bool(_INSTRUCTION.search(text))


# ---------------------------------------------------------------- rules

_PEOPLE = (
    r"(?:husband|wife|partner|boyfriend|girlfriend|mother|mom|mum|father|dad|son|daughter|"
    r"child|kid|baby|friend|brother|sister|grandmother|grandma|grandfather|grandpa|aunt|uncle|"
    r"cousin|patient|dog|cat|pet|neighbou?r|roommate|colleague)(?:'s)?"
)
_CONDITIONS = (
    r"(?:neuropathy|crps|pain|nerve pain|back pain|condition|migraines?|fibromyalgia|sciatica|"
    r"arthritis|diabetes|depression|symptoms)"
)
_OTHER = (
    rf"(?:my {_PEOPLE}|a (?:child|kid|baby|toddler|teen\w*|friend)|an? (?:adult|elderly \w+)|"
    rf"an? \d+ ?kg \w+)"
)
_WHO = rf"(?:i|me|my|myself|we|us|our|he|him|his|she|her|they|them|their|someone|somebody|{_OTHER})"
_FOR_WHOM = (
    rf"for (?:me|him|her|us|them|myself|someone|somebody|{_OTHER}|my {_CONDITIONS}|"
    rf"my {_PEOPLE} {_CONDITIONS})"
)
_DOSE_WORD = r"(?:dose|doses|dosage|dosing|amount|mg|milligrams?|mcg|ml|units?)"
_MEDS = (
    r"(?:dose|doses|dosage|ketamine|infusions?|drip|meds|medications?|medicines?|tablets?|"
    r"pills?|lozenges?|troches?|spray|gabapentin|pregabalin|oxycodone|morphine|opioids?|"
    r"antidepressants?|painkillers?|prescriptions?|treatment)"
)
_CHANGE = (
    r"(?:double|triple|increase|raise|bump up|up|lower|decrease|reduce|cut down|cut|skip|"
    r"miss|taper|wean|stop|quit|come off|go off|start|restart|combine|mix|space out|split|"
    r"halve|make up)"
)


@dataclass(frozen=True)
class Rule:
    """A named pattern over the normalised question."""

    name: str
    pattern: re.Pattern[str]

    def search(self, text: str) -> bool:
        """True when the rule matches."""
        return bool(self.pattern.search(text))


def _rule(name: str, pattern: str) -> Rule:
    return Rule(name, re.compile(pattern, re.IGNORECASE))


SELF_HARM = [
    _rule("kill_myself", r"\b(?:kill|hurt|harm|cut|cutting|burn)(?:ing)? (?:my ?self|myself)\b"),
    _rule("suicide", r"\bsuicid\w*|\bunalive\b|\bself[- ]?harm\w*"),
    _rule(
        "end_life",
        r"\bend(?:ing)? (?:my|it|this) (?:life|all)\b|\bend it all\b|\btake my (?:own )?life\b",
    ),
    _rule(
        "want_to_die",
        r"\b(?:want|wanted|wish|going) to die\b|\bwish i (?:was|were) dead\b|\bbetter off dead\b",
    ),
    _rule(
        "not_alive",
        r"\bdon'?t want to (?:be alive|live|be here|wake up)\b|\bno reason to live\b|"
        r"\bnobody would (?:miss|care)\b|\bno one would (?:miss|care)\b",
    ),
    _rule("all_pills", r"\b(?:take|taking|swallow\w*) all (?:of )?my (?:pills|meds|medications?)"),
]

_URGENT_SYMPTOM = (
    r"(?:chest pain|pain in (?:my|his|her|the) chest|chest (?:feels|is) (?:\w+ )?(?:tight|heavy|"
    r"crushing)|crushing (?:pain|chest)|tight chest|can'?t breathe|cannot breathe|can'?t get air|"
    r"not breathing|stopped breathing|trouble breathing|struggling to breathe|short of breath|"
    r"(?:lips|face) (?:are |is )?(?:going |turning )?blue|turning blue|collapsed|unconscious|"
    r"unresponsive|(?:isn'?t|not|won'?t|can'?t) (?:responding|respond|waking|wake)|passed out|"
    r"pass out|fainted|fainting|seizure|convuls\w*|overdos\w*|took too much|taken too much|"
    r"heart attack|stroke|(?:heart|pulse) is (?:racing|pounding)|arm (?:is|feels) numb)"
)
_PERSONAL = (
    r"(?:\bi\b|\bi'm\b|\bme\b|\bmy\b|\bwe\b|\bhe\b|\bshe\b|\bhis\b|\bher\b|\bthey\b|"
    r"\bsomeone\b|\bsomebody\b|\bfriend\b|\bhelp\b|right now|\bhere\b)"
)
MEDICAL_EMERGENCY = [
    _rule(
        "urgent_symptom_personal",
        rf"{_PERSONAL}.*\b{_URGENT_SYMPTOM}|\b{_URGENT_SYMPTOM}.*{_PERSONAL}",
    ),
]

DOSING = [
    _rule("dose_amount", _DOSE_AMOUNT.pattern),
    _rule("how_many_units", rf"\bhow (?:much|many) (?:of )?(?:{_DOSE_WORD}|ketamine)\b"),
    _rule("in_units", r"\b(?:in|as) (?:mg|ml|mcg|milligrams|mg/kg)\b"),
    _rule(
        "how_much_personal",
        # "will I need" asks what usually happens and is answered; "should I" asks for advice.
        rf"\bhow (?:much|many)\b.{{0,40}}\b(?:should|can|could|do|would|must|may|to)\b"
        rf".{{0,20}}\b{_WHO}\b.{{0,20}}\b(?:take|use|get|have|give|receive|inject|put|"
        rf"schedule|book|start|be on)\b",
    ),
    _rule(
        "what_dose",
        rf"\b(?:what|which)(?:'s| is| are| would be)? (?:\w+ ){{0,3}}(?:{_DOSE_WORD}|rate|"
        rf"regimen|dosing schedule)\b.{{0,60}}(?:\b(?:should|would|could|right|good|best|ok|"
        rf"okay|safe|correct|usual|normal|typical|starting|exact|recommended|suggest)\b|"
        rf"\b{_FOR_WHOM}\b)",
    ),
    _rule(
        "dose_qualifier",
        r"\b(?:exact|specific|right|correct|proper|ideal|best|maximum|max|minimum|"
        r"starting|usual|normal|typical|recommended|lethal|safe) (?:\w+ )?(?:dose|dosage|amount|"
        r"infusion rate|dosing)\b",
    ),
    _rule(
        "dose_for_someone", rf"\b(?:{_DOSE_WORD}|rate|how much|how many)\b.{{0,25}}\b{_FOR_WHOM}\b"
    ),
    _rule(
        "change_my_medicine",
        rf"\b{_CHANGE}\b(?: taking| using| off)?.{{0,25}}\b(?:my|his|her|their|our|the next|"
        rf"the rest of)\b.{{0,25}}\b{_MEDS}\b",
    ),
    _rule(
        "take_more",
        rf"\b(?:can|could|should|may|must|do|shall|would)\b.{{0,12}}\b{_WHO}\b.{{0,20}}\b(?:take|"
        rf"use|have|get|give|inject)\b.{{0,30}}\b(?:more|extra|another|less|two|three|double|"
        rf"twice|a second|half|my usual|my normal|my regular|{_DOSE_WORD})\b",
    ),
    _rule(
        "ok_for_me",
        rf"\b(?:{_DOSE_WORD}|\d+)\b.{{0,40}}\b(?:ok|okay|safe|fine|too much|too little|enough|"
        rf"right|alright)\b.{{0,10}}\b(?:for (?:me|him|her|us|my \w+)|if i)\b",
    ),
    _rule(
        "how_often_personal",
        rf"\b(?:how often|how frequently|when|how long)\b.{{0,10}}\b(?:should|can|do|must|"
        rf"would)\b.{{0,10}}\b{_WHO}\b.{{0,20}}\b(?:take|use|get|have|stop|start|space|repeat|"
        rf"book|come off)\b",
    ),
    _rule(
        "personal_frequency",
        r"(?=.*\b(?:i|my|me|he|she)\b).*\b(?:every \d+ (?:hours?|days?)|"
        r"\d+ times (?:a|per) (?:day|week)|(?:once|twice) (?:a|per) (?:day|week))\b",
    ),
    _rule(
        "give_to_someone",
        r"\b(?:give|share|lend|let)\b.{0,30}\b(?:my|some of my)\b.{0,20}\b(?:ketamine|"
        r"lozenges?|tablets?|pills?|spray|meds|medications?|dose)\b",
    ),
    _rule(
        "prescribe_me",
        rf"\b(?:prescribe|recommend|suggest|tell me|give me|output|list|write (?:me )?|"
        rf"what would you)\b.{{0,40}}\b(?:{_DOSE_WORD}|dosing schedule|schedule|regimen|"
        rf"infusion rate)\b",
    ),
    _rule(
        "body_weight",
        r"(?=.*\b(?:dose|dosage|how much|how many|amount|mg|ketamine)\b)"
        r".*\b\d+(?:\.\d+)? ?(?:kg|kgs|kilos?|lbs?|pounds)\b",
    ),
    _rule(
        "timing_own",
        r"\b(?:should|can|could|do)\b.{0,6}\b(?:i|we|he|she|they)\b.{0,6}\b(?:take|use|have)\b"
        r".{0,40}\b(?:before|after|together with|at the same time as|on top of|alongside)\b"
        r".{0,10}\bmy\b",
    ),
    _rule(
        "start_stop_own",
        r"\b(?:should|can|could|do|must)\b.{0,6}\b(?:i|we|he|she|they)\b.{0,6}\b(?:start|stop|"
        r"quit|come off|go off|keep taking|continue taking|combine|mix)\b",
    ),
]

ILLICIT = [
    _rule(
        "no_prescription",
        r"\bwithout (?:a |any )?(?:prescription|script|doctor|seeing a doctor|rx)\b|"
        r"\bno prescription\b",
    ),
    _rule(
        "buy_outside_care",
        r"\b(?:buy|purchase|order|score|cop|get|source|find)\b.{0,40}\b(?:online|dark ?web|"
        r"street|dealer|plug|off someone|from a friend|for a party|at a party)\b",
    ),
    _rule("dark_web", r"\bdark ?web\b|\bdarknet\b"),
    _rule(
        "recreational",
        r"\bfor fun\b|\brecreation\w*|\bget(?:ting)? high\b|\bparty\b|\bfestival\b|\brave\b|"
        r"\bk[- ]?hole\b|\bsnort\w*|\btrip(?:ping)? on\b",
    ),
    _rule(
        "make_it",
        r"\b(?:make|cook|synthesi[sz]e|extract|brew|produce)\b.{0,20}\bketamine\b|"
        r"\bketamine\b.{0,30}\b(?:vet'?s?|veterinary) (?:supplies|clinic|stock)\b|"
        r"\b(?:vet'?s?|veterinary) (?:supplies|stock)\b",
    ),
    _rule(
        "hide_from_tests",
        r"\b(?:pass|beat|cheat|fool|hide\b.{0,30})\b.{0,20}\bdrug tests?\b|\bout of my system\b|"
        r"\bhide\b.{0,30}\b(?:use|using)\b",
    ),
]

ROLE_OR_REVEAL = [
    _rule(
        "reveal_instructions",
        r"\b(?:reveal|show|print|repeat|display|tell me|what are|output|leak|dump)\b.{0,30}"
        r"\b(?:system prompt|prompt|instructions|hidden rules|your rules|rules you follow|"
        r"everything above|above this line|configuration)\b",
    ),
    _rule(
        "change_role",
        r"\byou are now\b|\bact as\b|\bpretend (?:to be|you(?:'re| are))\b|\broleplay as\b|"
        r"\bjailbreak\w*|\bdeveloper mode\b|\bno restrictions\b|\bdan\b",
    ),
]

_DOMAIN = re.compile(
    r"\b(?:ketamine|esketamine|pain\w*|nerves?|nervous|neuro\w*|neuralgia|infusions?|dos\w+|"
    r"treatments?|therap\w*|medic\w*|side effects?|crps|nmda|opioids?|nsaids?|analges\w*|"
    r"anesthe\w*|anaesthe\w*|fibromyalgia|clinic\w*|doctors?|symptoms?|drugs?|depress\w*|"
    r"blood pressure|heart|brain|chronic|relief|receptors?|glutamate|diabet\w*|shingles|"
    r"numb\w*|tingl\w*|burning|sciatica|migraines?|arthritis|lozenges?|tablets?|spray|iv|"
    r"injection|hallucinat\w*|dissociat\w*|addict\w*|toleran\w*|fda|insurance|health\w*|"
    r"patients?|nurse|hospital|disease|condition|pregnan\w*|psychosis|sedation|nausea)\b"
)

_FOLLOW_UP = re.compile(
    r"^(?:and|but|so|also|ok|okay|then|what about|how about|and what|what if|same)\b|"
    r"\b(?:it|its|that|this|them|they|those)\b"
)


def is_follow_up(question: str) -> bool:
    """A short question that leans on the previous turn ("and its side effects?")."""
    text = normalize(question)
    return len(text.split()) <= 10 and bool(_FOLLOW_UP.search(text))


# ---------------------------------------------------------------- exemplars


@dataclass(frozen=True)
class Exemplars:
    """Labelled example phrasings, by group, with their vectors."""

    texts: dict[str, tuple[str, ...]]
    vectors: dict[str, np.ndarray]


@cache
def exemplar_texts() -> dict[str, tuple[str, ...]]:
    """The labelled exemplars shipped with ketabot (``exemplars.yaml``)."""
    raw = yaml.safe_load(resources.files("ketabot").joinpath("exemplars.yaml").read_text())
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


def decide(signals: Signals, settings: Settings) -> Verdict:
    """The policy: emergency, then dosing and illicit rules, then semantic matches, then scope."""
    return (
        signals.emergency
        or signals.rules
        or signals.follow_up
        or _semantic(signals.similarities, settings)
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

    def __call__(
        self, question: str, history: Sequence[str] = (), vector: np.ndarray | None = None
    ) -> Verdict:
        """The verdict for ``question``, given the user's earlier questions (oldest first)."""
        return decide(self.signals(question, history, vector), self.settings)

    def signals(
        self, question: str, history: Sequence[str] = (), vector: np.ndarray | None = None
    ) -> Signals:
        """What the rules and the exemplars say about ``question``."""
        text = normalize(question)
        if vector is None:
            vector = self.embedder.embed([text])[0]
        follow_up = None
        if history and is_follow_up(question):
            follow_up = _follow_up(text, normalize(history[-1]))
        return Signals(
            emergency=_emergency(text),
            rules=_by_rules(text),
            follow_up=follow_up,
            role=_role_or_reveal(text),
            domain_words=bool(_DOMAIN.search(text)),
            similarities=self.similarities(vector),
        )

    def similarities(self, vector: np.ndarray) -> dict[str, tuple[float, str]]:
        """The best similarity to each exemplar group, with the exemplar that gave it."""
        best: dict[str, tuple[float, str]] = {}
        for group, vectors in self.exemplars.vectors.items():
            sims = vectors @ vector
            i = int(np.argmax(sims))
            best[group] = (float(sims[i]), self.exemplars.texts[group][i])
        return best


def _semantic(sims: dict[str, tuple[float, str]], settings: Settings) -> Verdict | None:
    education = max(sims["education"][0], sims["topic"][0])
    for group in ("dosing_advice", "illicit_use"):
        score, example = sims[group]
        margin = score - education
        if score >= settings.triage_floor and margin >= settings.triage_margin:
            evidence = f"exemplar:{group}:{example!r} ({score:.2f}, margin {margin:.2f})"
            return Verdict(Kind.REFUSAL, group, (evidence,), confidence=score)
    return None


def _off_topic(signals: Signals, settings: Settings) -> Verdict | None:
    if signals.domain_words:
        return None
    score, example = signals.similarities["topic"]
    if score >= settings.topic_floor:
        return None
    evidence = f"topic:{example!r} ({score:.2f} < {settings.topic_floor:.2f})"
    return Verdict(Kind.OUT_OF_SCOPE, "off_topic", (evidence,), confidence=1 - score)


def _first(rules: Sequence[Rule], text: str, group: str) -> str | None:
    return next((f"rule:{group}:{r.name}" for r in rules if r.search(text)), None)


def _emergency(text: str) -> Verdict | None:
    if hit := _first(SELF_HARM, text, "self_harm"):
        return Verdict(Kind.EMERGENCY, "self_harm", (hit,))
    if hit := _first(MEDICAL_EMERGENCY, text, "medical_emergency"):
        return Verdict(Kind.EMERGENCY, "medical_emergency", (hit,))
    return None


def _by_rules(text: str) -> Verdict | None:
    if hit := _first(DOSING, text, "dosing_advice"):
        return Verdict(Kind.REFUSAL, "dosing_advice", (hit,))
    if hit := _first(ILLICIT, text, "illicit_use"):
        return Verdict(Kind.REFUSAL, "illicit_use", (hit,))
    return None


def _role_or_reveal(text: str) -> Verdict | None:
    if hit := _first(ROLE_OR_REVEAL, text, "off_topic"):
        return Verdict(Kind.OUT_OF_SCOPE, "off_topic", (hit,))
    return None


def _follow_up(text: str, previous: str) -> Verdict | None:
    """A follow-up that turns the conversation into a dosing request is refused.

    Either the previous question was already one and this one only changes who it is for
    ("and for my mother?"), or the two together ask for a dose when neither did alone.
    """
    before = _by_rules(previous)
    together = _by_rules(f"{previous} {text}")
    was_dosing = before is not None and before.reason == "dosing_advice"
    inherits = was_dosing and not _DOMAIN.search(text)
    created = together is not None and together.reason == "dosing_advice" and not was_dosing
    if inherits or created:
        evidence = (before if inherits else together).evidence  # type: ignore[union-attr]
        return Verdict(Kind.REFUSAL, "dosing_advice", ("follow-up", *evidence))
    return None
