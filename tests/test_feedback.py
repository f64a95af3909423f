import json
import threading

from ketabot.cli import main
from ketabot.feedback import (
    SCHEMA_VERSION,
    FeedbackStore,
    ReplyFacts,
    connect,
    database_url,
    migrate,
    summarize,
)

FACTS = ReplyFacts(
    "answer",
    None,
    ("doc:a", "doc:b"),
    "My CRPS hurts, does ketamine help?",
    ("Ketamine for Pain — Side effects", "Neuropathic Pain"),
)


def _store(tmp_path, **options):
    return FeedbackStore(f"sqlite:///{tmp_path / 'ketabot.db'}", **options)


def test_a_rating_keeps_only_the_reply_facts_by_default(tmp_path):
    store = _store(tmp_path)
    rating_id = store.rate(FACTS, helpful=False)
    [record] = store.records()
    assert record["id"] == rating_id
    assert {k: record[k] for k in ("type", "rating", "kind", "reason", "chunk_ids")} == {
        "type": "rating",
        "rating": "not_helpful",
        "kind": "answer",
        "reason": None,
        "chunk_ids": ["doc:a", "doc:b"],
    }
    assert record["sources"] == ["Ketamine for Pain — Side effects", "Neuropathic Pain"]
    assert set(record) == {"id", "type", "time", "rating", "kind", "reason", "chunk_ids", "sources"}
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("ketabot.db*"))
    assert b"CRPS" not in stored and b"Neuropathic Pain" in stored


def test_the_question_is_kept_only_when_the_clinic_opts_in(tmp_path):
    store = _store(tmp_path, store_question=True)
    store.rate(FACTS, helpful=True)
    assert next(store.records())["question"] == FACTS.question


def test_feedback_can_be_turned_off(tmp_path):
    store = _store(tmp_path, enabled=False)
    assert store.rate(FACTS, helpful=True) is None
    assert not store.comment("x", "text")
    assert not (tmp_path / "ketabot.db").exists()


def test_comments_attach_to_a_rating(tmp_path):
    store = _store(tmp_path)
    rating_id = store.rate(FACTS, helpful=True)
    assert store.comment(rating_id, "  Clear   and kind.  ")
    assert not store.comment(rating_id, "   ")
    comment = list(store.records())[1]
    assert (comment["type"], comment["rating_id"], comment["comment"]) == (
        "comment",
        rating_id,
        "Clear and kind.",
    )


def test_several_writers_at_once_lose_nothing(tmp_path):
    """Two processes' stores on one SQLite file behave like these threads' stores: WAL."""
    stores = [_store(tmp_path) for _ in range(4)]

    def rate(store):
        for _ in range(25):
            store.rate(FACTS, helpful=True)

    threads = [threading.Thread(target=rate, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert summarize(_store(tmp_path).records()).ratings == 100


def test_the_schema_is_versioned_and_migrating_twice_changes_nothing(tmp_path):
    engine = connect(f"sqlite:///{tmp_path / 'ketabot.db'}")
    assert migrate(engine) == 0
    assert migrate(engine) == SCHEMA_VERSION


def test_the_default_database_is_sqlite_in_the_home_folder(tmp_path):
    from conftest import make_settings

    settings = make_settings(tmp_path)
    assert database_url(settings) == f"sqlite:///{(tmp_path / 'home').resolve()}/ketabot.db"
    pg = make_settings(tmp_path, database_url="postgresql://ketabot:secret@db.example/ketabot")
    assert database_url(pg) == "postgresql+psycopg://ketabot:secret@db.example/ketabot"


def test_an_earlier_feedback_file_is_imported_once(tmp_path):
    legacy = tmp_path / "feedback.jsonl"
    rating = {
        "id": "abc123",
        "type": "rating",
        "time": "2026-01-02T03:04:05+00:00",
        "rating": "helpful",
        "kind": "answer",
        "reason": None,
        "chunk_ids": ["doc:a"],
    }
    comment = {
        "type": "comment",
        "time": "2026-01-02T03:05:00+00:00",
        "rating_id": "abc123",
        "comment": "Useful.",
    }
    legacy.write_text("\n".join([json.dumps(rating), "not json", json.dumps(comment)]) + "\n")
    store = _store(tmp_path, legacy_file=legacy)
    records = list(store.records())
    assert [r["type"] for r in records] == ["rating", "comment"]
    assert records[0]["id"] == "abc123" and records[1]["comment"] == "Useful."
    assert not legacy.exists() and (tmp_path / "feedback.jsonl.imported").exists()
    (tmp_path / "feedback.jsonl.imported").rename(legacy)  # the same file again: not twice
    assert len(list(_store(tmp_path, legacy_file=legacy).records())) == 2


def test_summary_counts_and_least_helpful_sources(tmp_path):
    store = _store(tmp_path)
    store.rate(FACTS, helpful=False)
    store.rate(ReplyFacts("answer", None, ("doc:a",), "q"), helpful=False)
    store.rate(ReplyFacts("answer", None, ("doc:a",), "q"), helpful=False)
    store.rate(ReplyFacts("answer", None, ("doc:b",), "q"), helpful=True)
    store.rate(ReplyFacts("refusal", "dosing_advice", (), "q"), helpful=True)
    lines = [*(json.dumps(r) for r in store.records()), "not json"]
    summary = summarize(lines)
    assert summary.ratings == 5 and summary.unreadable_lines == 1
    assert summary.by_kind["answer"] == {"not_helpful": 3, "helpful": 1}
    assert [s.source for s in summary.least_helpful] == [
        "doc:a",  # a record without titles, as older ones are
        "Ketamine for Pain — Side effects",
        "Neuropathic Pain",
    ]


def test_a_comment_cannot_send_control_characters_to_a_terminal(tmp_path):
    store = _store(tmp_path)
    store.comment(store.rate(FACTS, helpful=True) or "", "nice\x1b]0;pwned\x07 and \x1b[8mhidden")
    records = list(store.records())
    assert "\x1b" not in json.dumps(records, ensure_ascii=False)
    lines = [*(json.dumps(r) for r in records), '{"type": "comment", "comment": "\\u001b[2J"}']
    lines += ["[1, 2]", "7", '{"type": "rating", "rating": 5, "kind": null, "sources": [1]}']
    summary = summarize(lines)
    assert summary.unreadable_lines == 2 and summary.ratings == 2
    assert all("\x1b" not in text for _, text in summary.comment_texts)


def test_ketabot_feedback_prints_the_summary(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KETABOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KETABOT_FEEDBACK_FILE", str(tmp_path / "none.jsonl"))
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    assert main(["--config", str(empty), "feedback"]) == 0
    assert "No feedback yet" in capsys.readouterr().out
    store = FeedbackStore(f"sqlite:///{(tmp_path / 'home').resolve()}/ketabot.db")
    store.comment(store.rate(FACTS, helpful=False) or "", "The side effects part was too short.")
    assert main(["--config", str(empty), "feedback"]) == 0
    out = capsys.readouterr().out
    assert "1 ratings and 1 comments" in out and "Ketamine for Pain — Side effects" in out
    assert "too short" not in out and "set store_question = true" in out
    config = tmp_path / "ketabot.toml"
    config.write_text("[clinic]\nstore_question = true\n")
    assert main(["--config", str(config), "feedback"]) == 0
    assert "[answer, not helpful] The side effects part was too short." in capsys.readouterr().out


def test_ketabot_feedback_still_reads_an_earlier_file(tmp_path, capsys):
    legacy = tmp_path / "f.jsonl"
    legacy.write_text(json.dumps({"type": "rating", "rating": "helpful", "kind": "answer"}) + "\n")
    assert main(["feedback", "--file", str(legacy)]) == 0
    assert "1 ratings and 0 comments" in capsys.readouterr().out
    assert main(["feedback", "--file", str(tmp_path / "none.jsonl")]) == 0
    assert "No feedback file" in capsys.readouterr().out
