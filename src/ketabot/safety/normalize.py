"""A matching copy of a question: what every triage rule and exemplar reads.

Case, accents, leetspeak, slang and common misspellings are folded away so a
rule written once matches the many ways patients type it. The copy is for
matching only; nothing normalised is ever shown or quoted.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ketabot.text import fold, unleet

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


# Cyrillic and Greek letters that look Latin ("kеtаmіnе" with Cyrillic е, а, і): a word
# written with them must match like the word it imitates. Unicode's NFKD leaves them alone.
_HOMOGLYPHS = str.maketrans(
    "аеорсухіјѕԁԛԝкмнтвАЕОРСУХІЈЅКМНТВαεικνορτυχΑΕΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdqwkmhtbAEOPCYXIJSKMHTBaeikvoptuxAEIKMNOPTYX",
)


def normalize(question: str) -> str:
    """A matching copy of the question: folded, homoglyphs and leetspeak undone, slang mapped."""
    text = fold(question.translate(_HOMOGLYPHS))
    text = re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", text)
    # "k e t a m i n e" -> "ketamine"
    text = re.sub(r"\b(?:[a-z] ){3,}[a-z]\b", lambda m: m.group().replace(" ", ""), text)
    tokens = [_fix_word(tok) for tok in text.split()]
    text = " ".join(tokens)
    for pattern, replacement in _SLANG:
        text = pattern.sub(replacement, text)
    return text


# Patients reuse the same words: each token's fix is worked out once (a pure function).
@lru_cache(maxsize=16_384)
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
