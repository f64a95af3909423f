"""A question and its conversation -> one :class:`~ketabot.types.Query`.

This is the only place a question is checked, normalised, recognised as a
follow-up and embedded. ``Bot.ask``, ``Bot.search``, evaluation and tuning all
build their queries here, so every path sees exactly what production sees.
"""

from __future__ import annotations

import html
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from ketabot.embeddings import Embedder
from ketabot.errors import HistoryError
from ketabot.language import detect
from ketabot.safety.normalize import normalize
from ketabot.timing import stage
from ketabot.types import Query, Reason, Turn

History = Iterable[str | Turn | Mapping[str, Any]]
_TAG = re.compile(r"<[^<>]{0,500}>")
_SCRIPT = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_WORD_GAP = re.compile(r"[ \t]{2,}")
_SPACED = re.compile(r"(?:\S )+\S")
# An earlier turn is context, not a question to answer; anything longer is cut, not refused.
_MAX_TURN_CHARS = 10_000


def build_query(
    question: object,
    history: History | None,
    embedder: Embedder,
    *,
    max_chars: int,
    max_turns: int,
    language: str | None = None,
) -> Query:
    """The query for ``question`` after ``history`` (earlier turns, oldest first).

    ``language``, the patient's language when the caller knows it, settles a close call.
    """
    text, problem = check_question(question, max_chars)
    if problem is not None:
        none = _no_vector(embedder)
        echo = _echo(question, max_chars)
        return Query(echo, "", "", none, "", none, "", none, problem=problem)
    turns = tuple(user_turns(history, max_turns))
    normalized, together, search_text = _texts(text, turns)
    follow_up = bool(turns) and is_follow_up(normalized)
    texts = list(dict.fromkeys([normalized, together, search_text]))
    with stage("embedding"):
        vectors = dict(zip(texts, embedder.embed(texts), strict=True))
    return Query(
        question=text,
        text=text,
        normalized=normalized,
        vector=vectors[normalized],
        context_text=together,
        context_vector=vectors[together],
        search_text=search_text,
        search_vector=vectors[search_text],
        history=turns,
        previous=normalize(turns[-1]) if turns else "",
        follow_up=follow_up,
        language=detect(text, prefer=language),
    )


def query_texts(
    question: object, history: History | None, *, max_chars: int, max_turns: int
) -> list[str]:
    """The texts :func:`build_query` embeds for ``question``, without embedding them.

    Evaluation encodes these for thousands of cases in batches first (several times faster
    per text on this CPU); the queries it then builds read them from the embedder's cache.
    """
    text, problem = check_question(question, max_chars)
    if problem is not None:
        return []
    try:
        turns = tuple(user_turns(history, max_turns))
    except HistoryError:
        return []
    return list(dict.fromkeys(_texts(text, turns)))


def _texts(text: str, turns: tuple[str, ...]) -> tuple[str, str, str]:
    """The question alone, with its previous turn when a follow-up, and what to search."""
    normalized = normalize(text)
    follow_up = bool(turns) and is_follow_up(normalized)
    together = normalize(f"{turns[-1]} {text}") if follow_up else normalized
    leans = follow_up and leans_on_previous(normalized)
    search_text = resolve(normalized, normalize(turns[-1])) if leans else normalized
    return normalized, together, search_text


@dataclass(frozen=True)
class FollowUps:
    """The follow-up vocabulary (``data/follow-ups.toml``) as patterns."""

    max_words: int
    frame: frozenset[str]
    opener: re.Pattern[str]
    referring: re.Pattern[str]
    narrowing: re.Pattern[str]


@cache
def follow_ups() -> FollowUps:
    """The shipped vocabulary, read once."""
    path = resources.files("ketabot").joinpath("data", "follow-ups.toml")
    data = tomllib.loads(path.read_text(encoding="utf-8"))

    def words(key: str) -> str:
        return "|".join(re.escape(w) for w in sorted(data[key], key=len, reverse=True))

    return FollowUps(
        max_words=int(data["max_words"]),
        frame=frozenset(data["frame"]),
        opener=re.compile(rf"^(?:(?:{words('openers')})\b[\s,]*)+"),
        referring=re.compile(rf"\b(?:{words('referring')})\b"),
        narrowing=re.compile(rf"^(?:{words('narrowing')})\b"),
    )


def is_follow_up(normalized: str) -> bool:
    """A short question that may lean on the previous turn ("and its side effects?")."""
    vocabulary = follow_ups()
    return len(normalized.split()) <= vocabulary.max_words and bool(
        vocabulary.opener.search(normalized) or vocabulary.referring.search(normalized)
    )


def resolve(follow_up: str, previous: str) -> str:
    """The follow-up with the earlier turn's topic in place of what it leaves out.

    The topic takes the place of the first referring word ("and is it addictive?" after
    "what is ketamine infusion therapy?" -> "and is ketamine infusion therapy addictive?"),
    or goes before a follow-up that only narrows ("what about for children?" after "who can
    receive ketamine?" -> "receive ketamine for children?").
    """
    vocabulary = follow_ups()
    topic = " ".join(w for w in re.findall(r"[\w'-]+", previous) if w not in vocabulary.frame)
    if not topic:
        return f"{previous} {follow_up}"
    replaced, count = vocabulary.referring.subn(topic, follow_up, count=1)
    if count:
        return replaced
    return f"{topic} {vocabulary.opener.sub('', follow_up, count=1)}"


def leans_on_previous(normalized: str) -> bool:
    """Whether a follow-up needs the earlier turn to say what it is about.

    "and is it addictive?" and "what about for children?" do; "what about side effects?"
    does not: its own words are what to search.
    """
    vocabulary = follow_ups()
    rest = vocabulary.opener.sub("", normalized, count=1)
    words = re.findall(r"\w+", rest)
    return (
        bool(vocabulary.referring.search(rest))
        or bool(vocabulary.narrowing.search(rest))
        or not words
    )


def check_question(question: object, max_chars: int) -> tuple[str, Reason | None]:
    """The question as plain text, or the reason it cannot be answered."""
    if isinstance(question, bytes):
        try:
            question = question.decode("utf-8")
        except UnicodeDecodeError:
            return "", Reason.UNREADABLE_INPUT
    if not isinstance(question, str):
        return "", Reason.UNREADABLE_INPUT
    controls = sum(
        1
        for ch in question
        if unicodedata.category(ch) in ("Cc", "Cs", "Co") and ch not in "\n\r\t"
    )
    if "\x00" in question or "\ufffd" in question or controls > max(2, len(question) // 20):
        return "", Reason.UNREADABLE_INPUT
    if len(question) > max_chars:
        return "", Reason.TOO_LONG
    text = html.unescape(_TAG.sub(" ", _SCRIPT.sub(" ", question)))
    # Invisible format characters (zero-width space and joiners, soft hyphen, word joiner)
    # are removed, not spaced: "too mu\u200bch" must stay "too much" for the triage.
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = " ".join(_unspace(text).split())
    if not any(ch.isalnum() for ch in text):
        return "", Reason.EMPTY_INPUT
    return text, None


def _unspace(text: str) -> str:
    """Spaced-out words rejoined, where wider gaps mark the words: "i  w a n t  t o" -> "i want to".

    Only the wider gaps tell where one spaced word ends, so this runs before whitespace is
    collapsed; a single spaced word ("k e t a m i n e") is the normaliser's job.
    """
    groups = _WORD_GAP.split(text)
    spaced = [bool(_SPACED.fullmatch(g.strip())) for g in groups]
    if sum(spaced) < 2:
        return text
    return " ".join(
        g.strip().replace(" ", "") if s else g for g, s in zip(groups, spaced, strict=True)
    )


def user_turns(history: History | None, limit: int) -> list[str]:
    """The user's earlier questions from any supported history shape, oldest first.

    A string, a mapping or a non-iterable is refused: iterated, "text" would be four turns.
    """
    if history is not None and (
        isinstance(history, str | bytes | Mapping) or not isinstance(history, Iterable)
    ):
        raise HistoryError(f"history must be a list of earlier turns, not {type(history).__name__}")
    turns: list[str] = []
    # Newest first, and only as far back as needed: a request carrying 10,000 earlier turns
    # costs no more than one carrying six.
    for item in reversed(list(history or ())):
        if len(turns) >= limit:
            break
        if cleaned := check_question(_turn_text(item), _MAX_TURN_CHARS)[0]:
            turns.append(cleaned)
    return turns[::-1]


def _turn_text(item: object) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Turn):
        return item.question
    if isinstance(item, Mapping) and item.get("role") == "user":
        return _content_text(item.get("content"))
    return ""


def _content_text(content: object) -> str:
    """A chat message's text: a string, or (Gradio 6) a list of content blocks.

    A block is ``{"type": "text", "text": ...}`` or a plain string; files and images are not
    questions and are skipped.
    """
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [
        block if isinstance(block, str) else block.get("text")
        for block in content
        if isinstance(block, str) or (isinstance(block, Mapping) and block.get("type") == "text")
    ]
    return " ".join(p for p in parts if isinstance(p, str))


def _echo(question: object, max_chars: int) -> str:
    """The question as the reply may repeat it: cut, and valid UTF-8 (no lone surrogates)."""
    if not isinstance(question, str):
        return ""
    cut = question if len(question) <= max_chars else question[:max_chars] + "…"
    return cut.encode("utf-8", "replace").decode("utf-8")


def _no_vector(embedder: Embedder) -> np.ndarray:
    return np.zeros(embedder.dimension, dtype=np.float32)
