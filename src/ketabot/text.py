"""Plain-text helpers shared by the corpus, the composer and the triage.

Sentences are returned as ``(start, end)`` offsets into the text they came
from, so a quote is always a slice of its passage, never a re-typed copy.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# A list marker or Markdown heading at the start of a line is layout, not part of a sentence.
_LINE_PREFIX = re.compile(r"^\s*(?:#{1,6}\s+|[-*•·]\s+|\d{1,2}[.)]\s+|[a-z][.)]\s+)?")
# A sentence ends at . ! or ? (and any closing quote or bracket) followed by space and
# something that can start a sentence.
_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "vs",
        "approx",
        "dr",
        "mr",
        "mrs",
        "ms",
        "st",
        "no",
        "fig",
        "al",
        "u.s",
        "inc",
        "ltd",
        "jr",
        "sr",
        "prof",
    ]
)
_TERMINAL = re.compile(r"[.!?][\"'”’)\]]*$")
_NEEDS_ANTECEDENT = re.compile(r"^(?:this|these|those|it|its|they|their|such|that)\b", re.I)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of the sentences in ``text``; a sentence never crosses a line break."""
    spans: list[tuple[int, int]] = []
    for line_start, line in _lines(text):
        if line.lstrip().startswith("#"):
            continue
        prefix = _LINE_PREFIX.match(line)
        start = prefix.end() if prefix else 0
        spans.extend((line_start + s, line_start + e) for s, e in _split_line(line, start))
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` as strings (slices of it)."""
    return [text[s:e] for s, e in sentence_spans(text)]


def needs_antecedent(sentence: str) -> bool:
    """True for a sentence that opens with a pronoun needing the one before ("These may ...")."""
    return bool(_NEEDS_ANTECEDENT.match(sentence))


def is_complete_sentence(sentence: str) -> bool:
    """True for a sentence that ends with terminal punctuation (not a cut-off fragment)."""
    return bool(_TERMINAL.search(sentence.rstrip()))


def _lines(text: str) -> Iterator[tuple[int, str]]:
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1


def _split_line(line: str, start: int) -> Iterator[tuple[int, int]]:
    cursor = start
    for match in _BOUNDARY.finditer(line, start):
        if _ends_with_abbreviation(line[cursor : match.start() + 1]):
            continue
        end = match.end()
        piece_end = end - (len(match.group()) - len(match.group().rstrip()))
        if line[cursor:piece_end].strip():
            yield _trim(line, cursor, piece_end)
        cursor = end
    if line[cursor:].strip():
        yield _trim(line, cursor, len(line))


def _ends_with_abbreviation(piece: str) -> bool:
    words = piece.rstrip(".").split()
    if not words:
        return False
    last = words[-1].lower().strip("(\"'“")
    return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())


def _trim(line: str, start: int, end: int) -> tuple[int, int]:
    while start < end and line[start].isspace():
        start += 1
    while end > start and line[end - 1].isspace():
        end -= 1
    return start, end


_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced text for matching (never for quoting)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.lower().split())


def unleet(word: str) -> str:
    """Undo digit-for-letter spellings inside a word ("k3tam1ne" -> "ketamine")."""
    if any(ch.isalpha() for ch in word) and any(ch in "013457@$" for ch in word):
        return word.translate(_LEET)
    return word


_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def words(text: str) -> list[str]:
    """Folded word tokens of ``text``."""
    return _WORD.findall(fold(text))
