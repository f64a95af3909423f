"""Review dates: when a source document is due, parsed from its front matter."""

import datetime as dt
from pathlib import Path

import pytest

from ketabot.corpus import load_document
from ketabot.errors import CorpusError
from ketabot.review import Every, due, overdue, parse_every, review_line


@pytest.mark.parametrize(
    ("text", "every"),
    [("12 months", Every(12, "month")), ("1 year", Every(1, "year")), ("90 days", Every(90, "day")),
     ("6 Weeks", Every(6, "week")), (" 2 years ", Every(2, "year"))],
)  # fmt: skip
def test_intervals_are_read_in_plain_words(text, every):
    assert parse_every(text) == every


@pytest.mark.parametrize("text", ["", "monthly", "0 months", "12", "twelve months", "1 decade"])
def test_anything_else_is_not_an_interval(text):
    assert parse_every(text) is None


def test_months_keep_the_day_or_take_the_months_last():
    assert Every(12, "month").after(dt.date(2025, 3, 15)) == dt.date(2026, 3, 15)
    assert Every(1, "month").after(dt.date(2026, 1, 31)) == dt.date(2026, 2, 28)
    assert Every(1, "year").after(dt.date(2024, 2, 29)) == dt.date(2025, 2, 28)
    assert Every(2, "week").after(dt.date(2026, 1, 1)) == dt.date(2026, 1, 15)


def _doc(tmp_path: Path, extra: str):
    path = tmp_path / "handout.md"
    path.write_text(f"---\nid: handout\ntitle: Handout\n{extra}---\n\nKetamine is a medicine.\n")
    return load_document(path)


def test_a_document_is_due_one_interval_after_its_review(tmp_path):
    document = _doc(tmp_path, "reviewed: 2025-06-01\nreview_every: 12 months\n")
    assert due(document) == dt.date(2026, 6, 1)
    assert not overdue(document, dt.date(2026, 6, 1))
    assert overdue(document, dt.date(2026, 6, 2))
    assert (
        review_line(document) == "handout.md: reviewed 2025-06-01, every 12 months, due 2026-06-01"
    )


def test_a_schedule_without_a_review_is_due_now_and_no_schedule_never_is(tmp_path):
    never = _doc(tmp_path, "review_every: 6 months\n")
    assert overdue(never, dt.date(2000, 1, 1))
    assert review_line(never) == "handout.md: never reviewed, every 6 months"
    assert due(_doc(tmp_path, "reviewed: 2020-01-01\n")) is None


@pytest.mark.parametrize(
    ("extra", "problem"),
    [("review_every: monthly\n", "review_every 'monthly'"),
     ("reviewed: last spring\n", "date 'last spring'"),
     ("withdrawn: maybe\n", "`withdrawn` must be true or false")],
)  # fmt: skip
def test_bad_review_metadata_is_named(tmp_path, extra, problem):
    with pytest.raises(CorpusError, match=problem):
        _doc(tmp_path, extra)
