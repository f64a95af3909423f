"""Helpful / not-helpful ratings, kept locally as JSON lines, and their summary.

A record holds the rating, the reply's kind and reason, the cited chunk ids and
sources (title and section) and the time: never an IP address, session id, name or
browser detail. The
question itself is kept only when the clinic opts in (``store_question``),
because patients type their own health details into it.
"""

from __future__ import annotations

import json
import secrets
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ketabot.types import Reply

HELPFUL = "helpful"
NOT_HELPFUL = "not_helpful"


@dataclass(frozen=True)
class ReplyFacts:
    """What may be stored about a reply the patient rated."""

    kind: str
    reason: str | None
    chunk_ids: tuple[str, ...]
    question: str
    sources: tuple[str, ...] = ()
    """Each cited source as a maintainer reads it: "title — section"."""

    @classmethod
    def of(cls, reply: Reply) -> ReplyFacts:
        """The facts of one reply."""
        chunk_ids = tuple(c.chunk_id for c in reply.citations)
        sources = tuple(
            f"{c.title} — {c.section}" if c.section else c.title for c in reply.citations
        )
        return cls(reply.kind.value, reply.reason, chunk_ids, reply.question, sources)


class FeedbackStore:
    """Appends feedback records to one JSON-lines file; safe across threads."""

    def __init__(self, path: Path, *, enabled: bool = True, store_question: bool = False) -> None:
        self.path = path
        self.enabled = enabled
        self.store_question = store_question
        self._lock = threading.Lock()

    def rate(self, facts: ReplyFacts, helpful: bool) -> str | None:
        """Store a rating; returns its id, to attach a comment to later."""
        record: dict[str, Any] = {
            "id": secrets.token_hex(8),
            "type": "rating",
            "time": _now(),
            "rating": HELPFUL if helpful else NOT_HELPFUL,
            "kind": facts.kind,
            "reason": facts.reason,
            "chunk_ids": list(facts.chunk_ids),
            "sources": list(facts.sources),
        }
        if self.store_question:
            record["question"] = facts.question
        return record["id"] if self._append(record) else None

    def comment(self, rating_id: str, text: str) -> bool:
        """Store an optional comment on an earlier rating."""
        text = _printable(text)[:1000]
        if not text:
            return False
        record = {"type": "comment", "time": _now(), "rating_id": rating_id, "comment": text}
        return self._append(record)

    def _append(self, record: dict[str, Any]) -> bool:
        if not self.enabled:
            return False
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
        return True


def _printable(text: str) -> str:
    """``text`` on one line, without control characters: no escape sequence reaches a terminal."""
    kept = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(kept.split())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SourceScore:
    """How one cited source (its title and section, or a chunk id in older records) was rated."""

    source: str
    helpful: int
    not_helpful: int

    @property
    def share_not_helpful(self) -> float:
        """Share of its ratings that were "not helpful"."""
        return self.not_helpful / (self.helpful + self.not_helpful)


@dataclass(frozen=True)
class Summary:
    """Counts for maintainers."""

    ratings: int
    comments: int
    by_kind: dict[str, Counter[str]] = field(default_factory=dict)
    least_helpful: list[SourceScore] = field(default_factory=list)
    unreadable_lines: int = 0
    comment_texts: list[tuple[str, str]] = field(default_factory=list)
    """(what was rated, the comment) for each comment, oldest first."""

    def render(self, show_comments: bool = False) -> str:
        """The summary for a maintainer's terminal; comment texts only when ``show_comments``.

        A comment is a patient's own words: the clinic shows them only once it has opted in
        to keeping patients' text (``store_question``).
        """
        lines = [
            f"{self.ratings} ratings and {self.comments} comments",
            f"  {'reply kind':14} {'helpful':>8} {'not helpful':>12}",
        ]
        for kind, counts in sorted(self.by_kind.items()):
            lines.append(f"  {kind:14} {counts[HELPFUL]:>8} {counts[NOT_HELPFUL]:>12}")
        if self.least_helpful:
            lines.append("Least helpful sources (rated not helpful / all ratings):")
            for s in self.least_helpful:
                lines.append(f"  {s.not_helpful}/{s.helpful + s.not_helpful}  {s.source}")
        if self.comment_texts and show_comments:
            lines.append("Comments (oldest first):")
            lines.extend(f"  [{rated}] {text}" for rated, text in self.comment_texts)
        elif self.comment_texts:
            lines.append("Comment texts are not shown: set store_question = true to read them.")
        if self.unreadable_lines:
            lines.append(f"({self.unreadable_lines} unreadable lines skipped)")
        return "\n".join(lines)


def summarize(lines: Iterable[str], top: int = 5) -> Summary:
    """Ratings by reply kind and rating, and the sources most often rated not helpful."""
    by_kind: dict[str, Counter[str]] = {}
    per_source: dict[str, Counter[str]] = {}
    rated: dict[str, str] = {}
    texts: list[tuple[str, str]] = []
    ratings = unreadable = 0
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            unreadable += 1
            continue
        if record.get("type") == "comment":
            about = rated.get(record.get("rating_id", ""), "an earlier reply")
            texts.append((about, _printable(str(record.get("comment", "")))))
            continue
        ratings += 1
        rating = str(record.get("rating", "?"))
        by_kind.setdefault(str(record.get("kind", "?")), Counter())[rating] += 1
        rated[record.get("id", "")] = f"{record.get('kind', '?')}, {rating.replace('_', ' ')}"
        # Older records name chunks only; newer ones also the title and section.
        for source in record.get("sources") or record.get("chunk_ids") or []:
            per_source.setdefault(_printable(str(source)), Counter())[rating] += 1
    scores = [SourceScore(name, c[HELPFUL], c[NOT_HELPFUL]) for name, c in per_source.items()]
    worst = sorted(
        (s for s in scores if s.not_helpful),
        key=lambda s: (-s.share_not_helpful, -s.not_helpful, s.source),
    )
    return Summary(ratings, len(texts), by_kind, worst[:top], unreadable, texts)
