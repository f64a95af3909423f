"""Small typed values that flow between ketabot's modules.

Every reply of every kind is a :class:`Reply`, and a ``Reply`` cannot exist
without a :class:`Disclaimer`, and a ``Disclaimer`` cannot exist without the
mandatory text. That is how "no reply without the disclaimer" is enforced:
by construction, not by remembering to append a string.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal, TypedDict

import numpy as np

MANDATORY_DISCLAIMERS = {
    "en": (
        "ketabot shares general education quoted from published articles. It is not medical "
        "advice and cannot tell you what dose or treatment is right for you: ask the clinician "
        "who prescribes your treatment. In an emergency, call your local emergency number now."
    ),
    "es": (
        "ketabot comparte información educativa general citada de artículos publicados. No es "
        "consejo médico y no puede decirle qué dosis o tratamiento es adecuado para usted: "
        "pregunte al médico que le receta el tratamiento. En una emergencia, llame ahora a su "
        "número local de emergencias."
    ),
}
MANDATORY_DISCLAIMER = MANDATORY_DISCLAIMERS["en"]


class Kind(StrEnum):
    """What sort of reply the bot gave; part of the stable JSON contract."""

    ANSWER = "answer"
    REFUSAL = "refusal"
    EMERGENCY = "emergency"
    OUT_OF_SCOPE = "out_of_scope"
    NOT_FOUND = "not_found"
    # Added to the contract for replies the bot could not produce normally
    # (bad input, index missing, internal failure); it still carries the disclaimer.
    ERROR = "error"


class Reason(StrEnum):
    """Why a reply is not a plain answer; part of the stable JSON contract.

    Every reason belongs to exactly one :class:`Kind` and has its own reply text
    (``ketabot.replies``); a reason without one is a test failure, never a fallback.
    """

    MEDICAL_EMERGENCY = "medical_emergency"
    SELF_HARM = "self_harm"
    DOSING_ADVICE = "dosing_advice"
    ILLICIT_USE = "illicit_use"
    OFF_TOPIC = "off_topic"
    UNSUPPORTED_LANGUAGE = "unsupported_language"
    NO_RELEVANT_SOURCE = "no_relevant_source"
    EMPTY_INPUT = "empty_input"
    TOO_LONG = "too_long"
    UNREADABLE_INPUT = "unreadable_input"
    INDEX_MISSING = "index_missing"
    INTERNAL_ERROR = "internal_error"

    @property
    def kind(self) -> Kind:
        """The kind of reply this reason goes with."""
        return _REASON_KIND[self]


_REASON_KIND = {
    Reason.MEDICAL_EMERGENCY: Kind.EMERGENCY,
    Reason.SELF_HARM: Kind.EMERGENCY,
    Reason.DOSING_ADVICE: Kind.REFUSAL,
    Reason.ILLICIT_USE: Kind.REFUSAL,
    Reason.OFF_TOPIC: Kind.OUT_OF_SCOPE,
    Reason.UNSUPPORTED_LANGUAGE: Kind.OUT_OF_SCOPE,
    Reason.NO_RELEVANT_SOURCE: Kind.NOT_FOUND,
    Reason.EMPTY_INPUT: Kind.ERROR,
    Reason.TOO_LONG: Kind.ERROR,
    Reason.UNREADABLE_INPUT: Kind.ERROR,
    Reason.INDEX_MISSING: Kind.ERROR,
    Reason.INTERNAL_ERROR: Kind.ERROR,
}


@dataclass(frozen=True)
class Disclaimer:
    """The safety notice carried by every reply: the mandatory text, then any clinic sentence."""

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.startswith(
            tuple(MANDATORY_DISCLAIMERS.values())
        ):
            raise ValueError("a Disclaimer must begin with the mandatory disclaimer text")

    @classmethod
    def build(cls, extra: str | None = None, language: str = "en") -> Disclaimer:
        """The mandatory text (in ``language``), then a clinic's extra sentence if configured."""
        mandatory = MANDATORY_DISCLAIMERS.get(language, MANDATORY_DISCLAIMER)
        extra = (extra or "").strip()
        return cls(f"{mandatory} {extra}" if extra else mandatory)


@dataclass(frozen=True)
class SourceDocument:
    """One cleaned source document from ``corpus/``."""

    id: str
    title: str
    body: str
    path: Path
    kind: str = "clinic-article"
    publisher: str | None = None
    date: str | None = None
    url: str | None = None
    page_starts: tuple[int, ...] = ()
    """Offsets in ``body`` where each printed page begins (PDF); empty: no pages."""
    reviewed: str | None = None
    """When the clinic last reviewed the document (ISO date), for ``ketabot sources``."""
    review_every: str | None = None
    """How often it must be reviewed ("12 months"); see :mod:`ketabot.review`."""
    withdrawn: bool = False
    """Marked withdrawn: kept on disk, never indexed or quoted."""

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding ``body[offset]``, or ``None`` for a document without pages."""
        if not self.page_starts:
            return None
        return bisect.bisect_right(self.page_starts, offset)


@dataclass(frozen=True)
class Chunk:
    """A quotable piece of one document: a verbatim slice of its body within one section."""

    id: str
    doc_id: str
    title: str
    section: str | None
    text: str
    start: int
    position: int
    publisher: str | None = None
    source: str | None = None
    date: str | None = None
    """The document's date (ISO), shown with its citations."""
    url: str | None = None
    """Where the original document can be read (http or https only), when known."""
    page: int | None = None
    """The printed page the whole chunk is on (PDF; chunks never cross a page)."""

    @property
    def search_text(self) -> str:
        """What is embedded and indexed: the section heading gives a short chunk its context."""
        return f"{self.section}\n{self.text}" if self.section else self.text


@dataclass(frozen=True)
class Passage:
    """A chunk found for a question, with how it was found (higher is better everywhere)."""

    chunk: Chunk
    relevance: float
    similarity: float
    lexical: float
    dense_rank: int | None = None
    lexical_rank: int | None = None


KindName = Literal["answer", "refusal", "emergency", "out_of_scope", "not_found", "error"]


class CitationJSON(TypedDict):
    """One citation in the JSON contract (the README documents each field)."""

    n: int
    doc_id: str
    title: str
    section: str | None
    chunk_id: str
    quote: str
    publisher: str | None
    date: str | None
    url: str | None
    page: int | None
    passage: str


class ReplyJSON(TypedDict):
    """A reply in the JSON contract: typed so the API's schema says what each field is."""

    question: str
    kind: KindName
    reason: str | None
    text: str
    body: str
    citations: list[CitationJSON]
    suggestions: list[str]
    disclaimer: str


@dataclass(frozen=True)
class Citation:
    """One numbered quote in an answer and where it comes from."""

    n: int
    doc_id: str
    title: str
    section: str | None
    chunk_id: str
    quote: str
    passage: str
    publisher: str | None = None
    date: str | None = None
    url: str | None = None
    page: int | None = None

    def to_json(self) -> CitationJSON:
        """The citation as it appears in the JSON contract."""
        return {
            "n": self.n,
            "doc_id": self.doc_id,
            "title": self.title,
            "section": self.section,
            "chunk_id": self.chunk_id,
            "quote": self.quote,
            "publisher": self.publisher,
            "date": self.date,
            "url": self.url,
            "page": self.page,
            "passage": self.passage,
        }


@dataclass(frozen=True)
class Verdict:
    """The safety triage's decision for one question, with the evidence that decided it."""

    kind: Kind
    reason: Reason | None = None
    evidence: tuple[str, ...] = ()
    confidence: float = 1.0

    def __post_init__(self) -> None:
        if self.reason is not None:
            object.__setattr__(self, "reason", Reason(self.reason))


@dataclass(frozen=True)
class Query:
    """One question as every stage sees it, built once (``Bot.query``) and passed along.

    The triage, the retriever, evaluation and tuning all read this value, so no stage
    checks, normalises or embeds the question again, and none sees other text than
    production does.
    """

    question: str
    """What the user sent, as echoed in the reply (bounded in length)."""
    text: str
    """The checked text: markup and control characters removed; empty when ``problem``."""
    normalized: str
    """The triage's matching copy of ``text`` (``ketabot.safety.normalize``)."""
    vector: np.ndarray = field(repr=False, compare=False)
    """The embedding of ``normalized``."""
    context_text: str
    """What the triage reads: ``normalized``, or for a follow-up the question it follows
    together with it (a dosing question stays one when the follow-up says "for my dad?")."""
    context_vector: np.ndarray = field(repr=False, compare=False)
    """The embedding of ``context_text``."""
    search_text: str
    """The normalised text the retriever searches: the follow-up's own words, or together
    with the question it follows when it refers back to it ("and is it addictive?")."""
    search_vector: np.ndarray = field(repr=False, compare=False)
    """The embedding of ``search_text``."""
    history: tuple[str, ...] = ()
    """The user's earlier questions, checked, oldest first."""
    previous: str = ""
    """The normalised last earlier question, or "" when there is none."""
    follow_up: bool = False
    """A short question that leans on the previous one ("and its side effects?")."""
    language: str = "en"
    """The question's language: "en", "es", or "other" (``ketabot.language``)."""
    problem: Reason | None = None
    """Why the input cannot be answered at all (empty, too long, unreadable)."""


@dataclass(frozen=True)
class Reply:
    """Everything the bot says to one question; the disclaimer is part of the type."""

    question: str
    kind: Kind
    body: str
    disclaimer: Disclaimer
    reason: Reason | None = None
    citations: tuple[Citation, ...] = ()
    evidence: tuple[str, ...] = field(default=(), compare=False)
    suggestions: tuple[str, ...] = ()
    """Questions the sources do answer, closest to this one (offered with "not found")."""

    def __post_init__(self) -> None:
        if not isinstance(self.disclaimer, Disclaimer):
            raise TypeError("Reply.disclaimer must be a Disclaimer")
        if self.citations and self.kind is not Kind.ANSWER:
            raise ValueError("only answers quote the sources")
        if self.suggestions and self.kind is Kind.ANSWER:
            raise ValueError("an answer offers no other questions")
        if self.reason is not None:
            object.__setattr__(self, "reason", Reason(self.reason))
        if self.reason is not None and self.reason.kind is not self.kind:
            raise ValueError(f"reason {self.reason} does not go with a reply of kind {self.kind}")

    @property
    def sources(self) -> str:
        """The numbered "Sources" list, or an empty string when nothing is cited."""
        if not self.citations:
            return ""
        lines = ["Sources:"]
        for c in self.citations:
            where = f"{c.title} — {c.section}" if c.section else c.title
            where += f", p. {c.page}" if c.page is not None else ""
            lines.append(f"[{c.n}] {where}" + (f" ({c.publisher})" if c.publisher else ""))
        return "\n".join(lines)

    @property
    def text(self) -> str:
        """The whole reply for a person: body, sources, then the disclaimer, always."""
        parts = [self.body, self.sources, self.disclaimer.text]
        return "\n\n".join(p for p in parts if p)

    def to_json(self) -> ReplyJSON:
        """The stable JSON contract shared by the CLI, the HTTP API and the evaluation."""
        return {
            "question": self.question,
            "kind": self.kind.value,
            "reason": self.reason.value if self.reason else None,
            "text": self.text,
            "body": self.body,
            "citations": [c.to_json() for c in self.citations],
            "suggestions": list(self.suggestions),
            "disclaimer": self.disclaimer.text,
        }


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did."""

    documents: int
    chunks: int
    added: int
    unchanged: int
    removed: int
    seconds: float
    generation: str | None
    reclaimed: int = 0  # bytes of disk freed from deleted generations
    skipped: tuple[str, ...] = ()
    """One line per file left out: its name and why (encrypted, no text, too large, ...)."""
    withdrawn: tuple[str, ...] = ()
    """Files marked ``withdrawn: true``, not indexed."""
    overdue: tuple[str, ...] = ()
    """One line per document past its review date."""

    def summary(self) -> str:
        """One line for a person (the files left out are in ``skipped``)."""
        freed = f", {self.reclaimed / 1e6:.1f} MB of disk reclaimed" if self.reclaimed else ""
        left_out = f", {len(self.skipped)} files left out" if self.skipped else ""
        return (
            f"{self.documents} documents, {self.chunks} chunks: {self.added} added, "
            f"{self.unchanged} unchanged, {self.removed} removed in {self.seconds:.1f} s"
            f"{freed}{left_out}"
        )


@dataclass(frozen=True)
class Turn:
    """One earlier exchange in a conversation: what the user asked and what kind of reply came."""

    question: str
    kind: Kind | None = None
