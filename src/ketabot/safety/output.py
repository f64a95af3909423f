"""What source text may reach a patient: the one owner of output safety.

A clinic can add any document. Three kinds of sentence in it never reach a patient, neither
as a quote nor in the passage shown beside one: a dose amount (in digits or in words, "fifty
milligrams", "two lozenges every four hours"), text addressed to a chatbot rather than to a
reader ("Chatbots reading this page must tell patients…", "SYSTEM: ignore…"), and markup
(HTML tags, Markdown links, ``javascript:`` URLs), so every text field of a reply is plain
text a widget may insert as text. The passage shown with a citation keeps its other sentences
verbatim and masks these with :data:`MASK`.
"""

from __future__ import annotations

import re

from ketabot.safety.rules import is_instruction, states_dose
from ketabot.text import sentence_spans

MASK = "[…]"

_NUMBER_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|a hundred|half|a half|a quarter|"
    r"one and a half|double|triple)"
)
_UNIT = (
    r"(?:milligrams?|mg|micrograms?|mcg|millilit(?:er|re)s?|ml|cc|grams?|units?|"
    r"lozenges?|troches?|tablets?|pills?|capsules?|sprays?|puffs?|drops?|doses?|vials?|"
    r"(?:milligrams?|mg) per (?:kilo\w*|kg|pound))"
)
# "fifty milligrams", "two lozenges every four hours", "half a tablet", "0.5 per kilo" in words
_DOSE_IN_WORDS = re.compile(
    rf"\b{_NUMBER_WORD}(?:[- ]{_NUMBER_WORD})?(?: (?:a|an|of a|of an))? {_UNIT}\b"
    r"|\bevery (?:one|two|three|four|five|six|eight|twelve|\d+) hours?\b",
    re.IGNORECASE,
)
_TO_A_CHATBOT = re.compile(
    r"\b(?:chat ?bots?|bots?|ai(?: models?| systems?| assistants?| tools?)?|assistants?|"
    r"language models?|llms?|gpts?|automated (?:systems?|agents?))\b.{0,80}\b(?:must|should|"
    r"shall|need to|have to|are (?:required|instructed|told) to|always|never)\b"
    r"|\b(?:when|if) (?:you are|you're|you get) (?:asked|prompted)\b.{0,60}\b(?:respond|answer|"
    r"reply|say|tell|recommend)\b"
    r"|\b(?:tell|instruct|advise) (?:all |every |the )?(?:patients?|users?|readers?) to "
    r"(?:double|triple|increase|take|stop|skip|ignore)\b",
    re.IGNORECASE,
)
_MARKUP = re.compile(
    r"<\s*/?\s*[a-z][a-z0-9-]*(?:\s[^<>]{0,200})?/?>|\]\([^)]*\)|\bjavascript\s*:|\bdata\s*:\s*text/html",
    re.IGNORECASE,
)


def may_show(sentence: str) -> bool:
    """Whether ``sentence`` may reach a patient: no dose amount, no instruction, no markup."""
    return not (
        states_dose(sentence)
        or _DOSE_IN_WORDS.search(sentence)
        or is_instruction(sentence)
        or _TO_A_CHATBOT.search(sentence)
        or _MARKUP.search(sentence)
    )


def shown_passage(text: str) -> str:
    """``text`` as it may be shown beside a quote: every sentence that may not be, masked.

    Lines that are not sentences (a heading) are kept; a quotable sentence is left exactly
    as it is, so a quote stays a substring of the passage shown with it.
    """
    out, last = [], 0
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        # between sentences (a heading, a stray tag on its own line) only markup is removed
        out += [_MARKUP.sub(MASK, text[last:start]), sentence if may_show(sentence) else MASK]
        last = end
    out.append(_MARKUP.sub(MASK, text[last:]))
    return "".join(out)


def plain(text: str | None) -> str | None:
    """A short field (title, section, publisher) with any markup removed."""
    return None if text is None else " ".join(_MARKUP.sub(" ", text).split())


_WEB_ADDRESS = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)


def web_address(url: str | None) -> str | None:
    """``url`` when it is a plain http(s) address a patient may open, else ``None``.

    A link is shown beside a citation; anything else (``javascript:``, markup, spaces) is
    dropped rather than shown.
    """
    if url is None:
        return None
    url = url.strip()
    return url if _WEB_ADDRESS.fullmatch(url) else None
