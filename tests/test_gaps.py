"""``ketabot gaps``: unanswered questions counted by topic, and nothing identifying kept."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from pathlib import Path

import pytest

from ketabot.cli import main
from ketabot.feedback import FeedbackStore
from ketabot.gaps import GapRecorder, render, summarize, topic_of, topic_words
from ketabot.types import Disclaimer, Kind, Reason, Reply

# Not-covered questions carrying a name, an address, a date, a phone number, a record
# number and an e-mail address: none of these may be stored or shown.
CANARY_QUESTIONS = [
    "My name is Zorblatt Quimby, does my insurance cover ketamine infusions?",
    "Can I drive home after a ketamine infusion? I live at 42917 Wallaby Way",
    "Is ketamine safe while breastfeeding my baby born 2026-03-14?",
    "How much does a ketamine infusion cost? call me at 555-0199 or zq@example.org",
    "Is ketamine treatment covered by medicare, my MRN is A77Z-99137, ask for mrs quimby",
]
# Long enough not to turn up by chance in a log's timings or a database file's bytes.
CANARIES = ["zorblatt", "quimby", "wallaby", "42917", "2026-03-14", "555-0199", "zq@example",
            "a77z", "99137"]  # fmt: skip


def _not_found(question: str) -> Reply:
    return Reply(
        question, Kind.NOT_FOUND, "not found", Disclaimer.build(), Reason.NO_RELEVANT_SOURCE
    )


def _no_canary(text: str) -> None:
    found = [c for c in CANARIES if c in text.lower()]
    assert not found, f"canaries kept: {found}"


def test_only_listed_topic_words_are_kept():
    words = topic_words(CANARY_QUESTIONS[0])
    assert words == ("insurance", "cover")
    _no_canary(" ".join(w for q in CANARY_QUESTIONS for w in topic_words(q)))
    assert topic_of(words) == "cost and insurance"
    assert topic_of(topic_words("Is ketamine safe while breastfeeding?")) == (
        "pregnancy and breastfeeding"
    )
    assert topic_of(topic_words("Zorblatt 42 Wallaby Way")) == "other"
    assert topic_of(topic_words("¿Lo cubre mi seguro?")) == "cost and insurance"


def test_the_recorder_counts_only_not_found_replies(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path}/k.db")
    recorder = GapRecorder(store)
    recorder.replied(_not_found("Does insurance pay for it?"), 0.1)
    answer = Reply("How does it work?", Kind.ANSWER, "quotes", Disclaimer.build())
    recorder.replied(answer, 0.1)
    gaps = store.gaps()
    assert [(g["topic"], g["words"], g["question"]) for g in gaps] == [
        ("cost and insurance", "insurance pay", None)
    ]
    assert gaps[0]["day"] == dt.datetime.now(dt.UTC).date().isoformat()


def test_nothing_identifying_reaches_the_database_or_the_report(tmp_path):
    database = tmp_path / "k.db"
    recorder = GapRecorder(FeedbackStore(f"sqlite:///{database}"))
    for question in CANARY_QUESTIONS:
        recorder.replied(_not_found(question), 0.1)
    recorder.store.engine.dispose()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir()).decode("latin-1")
    _no_canary(stored)
    report = render(summarize(recorder.store.gaps(), dt.date.today()))
    _no_canary(report)
    assert "cost and insurance" in report and "pregnancy and breastfeeding" in report


def test_with_the_clinics_opt_in_the_questions_are_kept_and_shown(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path}/k.db", store_question=True)
    GapRecorder(store).replied(_not_found(CANARY_QUESTIONS[1]), 0.1)
    report = render(summarize(store.gaps(), dt.date.today()), show_questions=True)
    assert CANARY_QUESTIONS[1] in report


def test_counts_over_time():
    today = dt.date(2026, 11, 22)
    records = [
        {"day": "2026-11-20", "topic": "cost and insurance", "words": "cost"},
        {"day": "2026-11-01", "topic": "cost and insurance", "words": "insurance cover"},
        {"day": "2026-06-01", "topic": "cost and insurance", "words": "cost"},
        {"day": "2026-11-21", "topic": "other", "words": ""},
    ]
    rows = summarize(records, today)
    cost = rows[0]
    assert (cost.topic, cost.total, cost.last_7_days, cost.last_30_days) == (
        "cost and insurance", 3, 1, 2,
    )  # fmt: skip
    assert cost.words.most_common(1) == [("cost", 2)]
    assert cost.weeks == {"2026-W47": 1, "2026-W44": 1, "2026-W23": 1}


def test_a_clinic_can_turn_recording_off(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path}/k.db", enabled=False)
    GapRecorder(store).replied(_not_found("Does insurance pay for it?"), 0.1)
    assert FeedbackStore(f"sqlite:///{tmp_path}/k.db").gaps() == []


@pytest.mark.slow
def test_the_servers_unanswered_questions_reach_ketabot_gaps_without_a_canary(
    server, tmp_path, monkeypatch, capsys
):
    for question in CANARY_QUESTIONS:
        request = urllib.request.Request(
            f"{server.url}/api/v1/ask",
            data=json.dumps({"question": question}).encode(),
            headers={"content-type": "application/json"},
        )
        assert json.load(urllib.request.urlopen(request, timeout=60))["kind"] == "not_found"
    monkeypatch.setenv("KETABOT_DATABASE_URL", server.database)
    monkeypatch.setenv("KETABOT_HOME", str(tmp_path / "home"))
    assert main(["gaps", "--plot", str(tmp_path / "gaps.png")]) == 0
    out = capsys.readouterr().out
    assert "cost and insurance" in out and "driving, work and travel" in out
    _no_canary(out)
    assert (tmp_path / "gaps.png").stat().st_size > 1000
    home = Path(server.database.removeprefix("sqlite:///")).parent
    stored = b"".join(p.read_bytes() for p in home.glob("ketabot.db*")).decode("latin-1")
    _no_canary(stored)
    _no_canary(server.output())
