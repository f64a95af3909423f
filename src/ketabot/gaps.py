"""What patients asked that the sources do not answer, counted by topic (``ketabot gaps``).

Privacy by construction: a "not found" question is kept as the words of
``data/gap-topics.toml`` it contains and the topic they point to; a word not listed
there is never stored, so a name, number, date, address or identifier cannot be. The
question itself is kept only when the clinic opts in (``clinic.store_question``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ketabot.config import Settings
from ketabot.feedback import FeedbackStore, database_url
from ketabot.text import fold
from ketabot.types import Kind, Reason, Reply

log = logging.getLogger("ketabot")

OTHER = "other"


@dataclass(frozen=True)
class Topic:
    """A named topic and the words that point to it."""

    name: str
    words: frozenset[str]


@lru_cache(maxsize=1)
def topics() -> tuple[Topic, ...]:
    """The topics of ``data/gap-topics.toml``, in file order (the first wins a tie)."""
    path = resources.files("ketabot").joinpath("data", "gap-topics.toml")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return tuple(Topic(t["name"], frozenset(w.lower() for w in t["words"])) for t in data["topic"])


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    return frozenset().union(*(t.words for t in topics()))


def topic_words(question: str) -> tuple[str, ...]:
    """The listed topic words in ``question``, folded, each once, in order."""
    found = re.findall(r"[a-z]+", fold(question))
    return tuple(dict.fromkeys(w for w in found if w in _vocabulary()))


def topic_of(words: Sequence[str]) -> str:
    """The topic most of ``words`` point to; ``other`` when none does."""
    scores = [(sum(w in t.words for w in words), -i, t.name) for i, t in enumerate(topics())]
    best = max(scores)
    return best[2] if best[0] else OTHER


def gap_recorder(settings: Settings) -> GapRecorder:
    """The recorder for ``settings``: on unless the clinic turned ``record_gaps`` off."""
    clinic = settings.clinic
    store = FeedbackStore(
        database_url(settings), enabled=clinic.record_gaps, store_question=clinic.store_question
    )
    return GapRecorder(store)


class GapRecorder:
    """A bot observer that counts each "not found" reply's topic in the feedback database."""

    def __init__(self, store: FeedbackStore) -> None:
        self.store = store

    def stages(self, seconds: Mapping[str, float]) -> None:
        """Not needed: only replies count."""

    def replied(self, reply: Reply, seconds: float) -> None:
        """Record a "not found" reply's topic words; a failure never reaches the patient."""
        if not self.store.enabled or reply.kind is not Kind.NOT_FOUND:
            return
        if reply.reason is not Reason.NO_RELEVANT_SOURCE:
            return
        words = topic_words(reply.question)
        try:
            self.store.add_gap(topic_of(words), words, reply.question)
        except Exception as exc:
            log.warning("content gap not recorded (%s)", type(exc).__name__)


@dataclass
class GapRow:
    """One topic's counts."""

    topic: str
    total: int = 0
    last_7_days: int = 0
    last_30_days: int = 0
    words: Counter[str] = field(default_factory=Counter)
    questions: list[str] = field(default_factory=list)
    weeks: Counter[str] = field(default_factory=Counter)
    """Count per ISO week (``2026-W14``), for the plot."""


def summarize(records: Iterable[Mapping[str, Any]], today: dt.date) -> list[GapRow]:
    """Counts per topic, most asked first."""
    rows: dict[str, GapRow] = {}
    for record in records:
        day = dt.date.fromisoformat(record["day"])
        row = rows.setdefault(record["topic"], GapRow(record["topic"]))
        row.total += 1
        row.last_7_days += (today - day).days < 7
        row.last_30_days += (today - day).days < 30
        row.words.update(record["words"].split())
        year, week, _ = day.isocalendar()
        row.weeks[f"{year}-W{week:02d}"] += 1
        if record.get("question"):
            row.questions.append(record["question"])
    return sorted(rows.values(), key=lambda r: (-r.total, r.topic))


def render(rows: Sequence[GapRow], show_questions: bool = False) -> str:
    """The terminal table; with the clinic's opt-in, each topic's latest questions below it."""
    if not rows:
        return "No unanswered questions recorded yet."
    width = max(len(r.topic) for r in rows)
    lines = [f"{'topic':<{width}}  total  7 days  30 days  words asked"]
    for row in rows:
        words = ", ".join(w for w, _ in row.words.most_common(5))
        lines.append(
            f"{row.topic:<{width}}  {row.total:>5}  {row.last_7_days:>6}  {row.last_30_days:>7}"
            f"  {words}"
        )
        if show_questions:
            lines += [f"{'':<{width}}    - {q}" for q in row.questions[-3:]]
    return "\n".join(lines)


def plot(rows: Sequence[GapRow], path: Path) -> Path:
    """Questions per week for each topic, in the evaluation report's style (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weeks = sorted({w for row in rows for w in row.weeks})
    fig, ax = plt.subplots(figsize=(8, 4), dpi=120)
    for row in rows[:8]:
        ax.plot(weeks, [row.weeks.get(w, 0) for w in weeks], marker="o", label=row.topic)
    ax.set_title("Questions the sources did not answer, per week")
    ax.set_ylabel("questions")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
