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
    r"(?:\s*(?:/|per)\s*(?:kg|kilo\w*|hr|hours?|h|min\w*|day|dose))*\b"
    # a bare rate ("0.5 per kilo", "1/kg") is a dose amount too
    r"|\b\d+(?:[.,]\d+)?\s*(?:/|per)\s*(?:kg|kilo\w*)\b",
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
_DRUG_NAMES = (
    r"(?:oxy\w*|percocet|vicodin|hydrocodone|tramadol|codeine|fentanyl|methadone|morphine|"
    r"xanax|valium|klonopin|ativan|benzos?|ambien|zolpidem|gabapentin|lyrica|pregabalin|"
    r"sertraline|zoloft|prozac|fluoxetine|ssris?|alcohol|drinks?|wine|beer|weed|cannabis)"
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
    _rule(
        "hurt_myself",
        r"\b(?:kill|hurt|harm|cut|cutting|burn|starve)(?:ing)? (?:my ?self|myself)\b",
    ),
    _rule("suicide", r"\bsuicid\w*|\bunalive\b|\bself[- ]?harm\w*"),
    _rule(
        "end_life",
        r"\bend(?:ing)? (?:my life|it all|this all|everything|things|it now)\b|"
        r"\btake my (?:own )?life\b",
    ),
    _rule(
        "want_to_die",
        r"\b(?:want|wanted|wish|going|ready) to die\b|\bwish i (?:was|were) dead\b|"
        r"\bbetter off (?:dead|without me)\b|\bwish i (?:could )?(?:never|not) wake up\b",
    ),
    _rule(
        "not_alive",
        r"\b(?:don'?t|do not) want to (?:be alive|live|be here|wake up|go on|exist)\b|"
        r"\bcan'?t (?:go on|do this anymore|take it anymore)\b|\bcannot go on\b|"
        r"\bno (?:reason|point) (?:to|in) (?:live|living|go on|going on)\b|"
        r"\b(?:nobody|no one) would (?:miss|care)\b",
    ),
    _rule(
        "means",
        r"\b(?:take|taking|swallow\w*) (?:all|the whole bottle) (?:of )?(?:my )?"
        r"(?:pills|meds|medications?|tablets)|\bstockpil\w*",
    ),
]

_URGENT_SYMPTOM = (
    r"(?:"
    # breathing
    r"can'?t breathe?|cannot breathe|can'?t (?:get|catch) (?:air|my breath)|"
    r"(?:not|barely|hardly|stopped|trouble|difficulty|struggling to|problems?) breath\w*|"
    r"short(?:ness)? of breath|breathing (?:is )?(?:very )?(?:slow|shallow|weird|strange|hard|"
    r"difficult|laboured|labored|noisy)|gasping|choking|(?:lips|face) (?:are |is )?(?:going |"
    r"turning )?(?:blue|grey|gray)|turning blue|throat (?:is )?(?:closing|swelling)|anaphyla\w*|"
    # chest and heart
    r"chest (?:pain|tight\w*|pressure|hurts?|heav\w*|crush\w*)|(?:pain|tightness|pressure) in "
    r"(?:my|his|her|the) chest|chest (?:feels|is) (?:\w+ )?(?:tight|heavy|crushing|painful)|"
    r"crushing (?:pain|chest)|tight chest|heart attack|(?:heart|pulse) (?:is )?(?:racing|pounding|"
    r"irregular|skipping)|stroke|face (?:is )?drooping|slurred speech|arm (?:is|feels) numb|"
    # consciousness
    r"collapsed|unconscious|unresponsive|barely conscious|(?:isn'?t|not|won'?t|can'?t) "
    r"(?:responding|respond|waking|wake)|passed out|pass out|blacked out|faint\w*|seizure|"
    r"convuls\w*|fitting|"
    # too much taken
    r"overdos\w*|(?:took|taken|had) (?:too much|too many|way too much|a bunch|a lot|loads|"
    r"double|all)(?: of)?"
    r")"
)
_PERSONAL = (
    r"(?:\bi\b|\bi'm\b|\bme\b|\bmy\b|\bwe\b|\bhe\b|\bshe\b|\bhis\b|\bher\b|\bthey\b|"
    r"\bsomeone\b|\bsomebody\b|\bfriend\b|\bhelp\b|right now|\bhere\b|since (?:the|my) "
    r"(?:infusion|treatment|dose)|after (?:the|my|his|her) (?:infusion|treatment|dose))"
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
        rf"schedule|book|start|be on|go|increase|raise|push)\b",
    ),
    _rule(
        "how_far",
        rf"\bhow (?:much |far )?(?:high|higher|more|low|lower|less)\b.{{0,20}}\b(?:can|should|"
        rf"could|may|do)\b.{{0,6}}\b{_WHO}\b",
    ),
    _rule(
        "my_dose_changed",
        r"\bmy (?:\w+ ){0,2}(?:dose|doses|dosage|infusions?|lozenges?|spray)\b.{0,60}\b(?:higher|"
        r"more|increase\w*|raise|up|lower|less|reduce\w*|change|adjust\w*|double|skip|stop|"
        r"not working|isn'?t working|stopped working|wore off|wears off)\b",
    ),
    _rule(
        "what_dose",
        rf"\b(?:what|which)(?:'s| is| are| would be)? (?:\w+ ){{0,3}}(?:{_DOSE_WORD}|rate|"
        rf"regimen|dosing schedule)\b.{{0,60}}(?:\b(?:should|would|could|right|good|best|ok|"
        rf"okay|safe|correct|usual|normal|typical|starting|exact|recommended|suggest|i|my|"
        rf"me|set)\b|\b{_FOR_WHOM}\b)",
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
        rf"use|have|get|give|inject|ask for|request|go up to)\b.{{0,30}}\b(?:more|extra|another|"
        rf"less|two|three|double|twice|a second|half|my usual|my normal|my regular|"
        rf"{_DOSE_WORD})\b",
    ),
    _rule(
        "ok_for_me",
        rf"\b(?:{_DOSE_WORD}|\d+)\b.{{0,40}}\b(?:ok|okay|safe|fine|too much|too little|enough|"
        rf"right|alright)\b.{{0,10}}\b(?:for (?:me|him|her|us|my \w+)|if i)\b",
    ),
    _rule(
        "how_often_personal",
        rf"\b(?:how often|how frequently|when|how long)\b.{{0,10}}\b(?:should|can|do|must|"
        rf"would)\b.{{0,10}}\b(?:{_WHO}|you)\b.{{0,20}}\b(?:take|use|get|have|stop|start|space|repeat|"
        rf"book|come off|wait|leave|redose|re-dose)\b",
    ),
    _rule(
        "between_my_doses",
        r"(?=.*\b(?:i|my|me)\b).*\bbetween (?:my |each |the |two )?(?:doses|infusions|lozenges|"
        r"sprays|tablets|treatments)\b",
    ),
    _rule(
        "personal_frequency",
        r"(?=.*\b(?:i|my|me|he|she)\b).*\b(?:every \d+ (?:hours?|days?)|"
        r"(?:\d+|two|three|four|several|many) times (?:a day|a week|per day|per week|today|"
        r"tonight|daily|in a row|in a day)|(?:once|twice) (?:a|per) (?:day|week)|twice (?:today|"
        r"tonight|in a row))\b",
    ),
    _rule(
        "give_to_someone",
        r"\b(?:give|share|lend|let)\b.{0,30}\b(?:my|some of my)\b.{0,20}\b(?:ketamine|"
        r"lozenges?|tablets?|pills?|spray|meds|medications?|dose)\b",
    ),
    _rule(
        "someone_uses_mine",
        rf"\b(?:my|his|her|our) {_PEOPLE} (?:\w+ ){{0,3}}(?:use|take|have|try|borrow|finish)\b"
        rf".{{0,25}}"
        rf"\b(?:my|mine|some of my|leftover|the rest of)\b|\b(?:use|take|borrow|finish) "
        rf"(?:my|someone else'?s|another person'?s|(?:my|his|her) {_PEOPLE}) (?:leftover )?"
        rf"(?:ketamine|lozenges?|tablets?|spray|prescription|meds|medication)\b",
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
        "with_my_medicine",
        rf"\b(?:take|use|have|mix|combine)\b.{{0,30}}\bwith (?:my|his|her) (?:\w+ ){{0,2}}"
        rf"(?:{_MEDS}|{_DRUG_NAMES})\b",
    ),
    _rule("redose", r"\bre-?dos\w*|\btop(?:ping)? up\b.{0,20}\b(?:dose|ketamine)\b"),
    _rule(
        "start_stop_own",
        r"\b(?:should|can|could|do|must)\b.{0,6}\b(?:i|we|he|she|they)\b.{0,6}\b(?:start|stop|"
        r"quit|come off|go off|keep taking|continue taking|combine|mix|wean|taper|cut down|"
        r"reduce|lower|increase|double|skip|change|adjust|space out)\b",
    ),
]

ILLICIT = [
    _rule(
        "no_prescription",
        r"\bwithout (?:seeing |asking |a |an |any )*(?:prescription|script|doctor|rx|anyone|"
        r"anybody|a clinic|clinic|medical)\w*\b|\bno prescription\b",
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
    # stems may sit inside a word ("subanesthetic", "esketamine", "polyneuropathy")
    r"\b\w*(?:ketamin|anesthe|anaesthe|analges|neuro|neuralg|dissociat|hallucinat|opioid)\w*|"
    r"\b(?:pain\w*|nerves?|nervous|infusions?|dos\w+|"
    r"treatments?|therap\w*|medic\w*|side effects?|crps|nmda|nsaids?|"
    r"fibromyalgia|clinic\w*|doctors?|symptoms?|drugs?|depress\w*|"
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
        or _semantic_emergency(signals.similarities, settings)
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


def _semantic_emergency(sims: dict[str, tuple[float, str]], settings: Settings) -> Verdict | None:
    """An emergency in words no rule foresaw, caught by closeness to emergency exemplars."""
    education = max(sims["education"][0], sims["topic"][0])
    reason = max(("medical_emergency", "self_harm"), key=lambda g: sims[g][0])
    score, example = sims[reason]
    margin = score - education
    if score >= settings.emergency_floor and margin >= settings.emergency_margin:
        evidence = f"exemplar:{reason}:{example!r} ({score:.2f}, margin {margin:.2f})"
        return Verdict(Kind.EMERGENCY, reason, (evidence,), confidence=score)
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
