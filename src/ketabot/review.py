"""When each source document is due for review: medical content ages.

A document's front matter (or sidecar) may say when it was last ``reviewed`` (YYYY-MM-DD)
and how often it must be (``review_every``: "12 months", "1 year", "90 days", "6 weeks").
A document with a schedule but no review date is due now. ``withdrawn: true`` takes a
document out of the index at the next ingest without deleting its file.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from ketabot.types import SourceDocument

_EVERY = re.compile(r"^\s*(\d{1,3})\s*(day|week|month|year)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Every:
    """A review interval: a count of days, weeks, months or years."""

    count: int
    unit: str

    def after(self, day: dt.date) -> dt.date:
        """The date one interval after ``day`` (the 31st of a short month becomes its last day)."""
        if self.unit == "day":
            return day + dt.timedelta(days=self.count)
        if self.unit == "week":
            return day + dt.timedelta(weeks=self.count)
        months = self.count * (12 if self.unit == "year" else 1)
        year, month = divmod(day.month - 1 + months, 12)
        year += day.year
        last = calendar.monthrange(year, month + 1)[1]
        return dt.date(year, month + 1, min(day.day, last))

    def __str__(self) -> str:
        return f"{self.count} {self.unit}{'s' if self.count != 1 else ''}"


def parse_every(value: object) -> Every | None:
    """``"12 months"`` as an :class:`Every`; ``None`` for text that is not an interval."""
    match = _EVERY.match(str(value))
    if not match or int(match.group(1)) == 0:
        return None
    return Every(int(match.group(1)), match.group(2).lower())


def due(document: SourceDocument) -> dt.date | None:
    """When ``document`` is next due for review; ``None`` when it has no schedule."""
    every = parse_every(document.review_every) if document.review_every else None
    if every is None:
        return None
    if document.reviewed is None:
        return dt.date.min  # scheduled but never reviewed: due now
    return every.after(dt.date.fromisoformat(document.reviewed))


def overdue(document: SourceDocument, today: dt.date) -> bool:
    """Whether ``document``'s review date has passed."""
    when = due(document)
    return when is not None and when < today


def review_line(document: SourceDocument) -> str:
    """One line for a person: the file, when it was reviewed and when it is due."""
    when = due(document)
    last = f"reviewed {document.reviewed}" if document.reviewed else "never reviewed"
    next_ = "" if when in (None, dt.date.min) else f", due {when.isoformat()}"
    every = f", every {parse_every(document.review_every)}" if document.review_every else ""
    return f"{document.path.name}: {last}{every}{next_}"
