import json

from ketabot.cli import main
from ketabot.feedback import FeedbackStore, ReplyFacts, summarize

FACTS = ReplyFacts(
    "answer",
    None,
    ("doc:a", "doc:b"),
    "My CRPS hurts, does ketamine help?",
    ("Ketamine for Pain — Side effects", "Neuropathic Pain"),
)


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_rating_keeps_only_the_reply_facts_by_default(tmp_path):
    store = FeedbackStore(tmp_path / "f.jsonl")
    rating_id = store.rate(FACTS, helpful=False)
    [record] = _records(tmp_path / "f.jsonl")
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
    assert "CRPS" not in (tmp_path / "f.jsonl").read_text()


def test_the_question_is_kept_only_when_the_clinic_opts_in(tmp_path):
    FeedbackStore(tmp_path / "f.jsonl", store_question=True).rate(FACTS, helpful=True)
    assert _records(tmp_path / "f.jsonl")[0]["question"] == FACTS.question


def test_feedback_can_be_turned_off(tmp_path):
    store = FeedbackStore(tmp_path / "f.jsonl", enabled=False)
    assert store.rate(FACTS, helpful=True) is None
    assert not store.comment("x", "text")
    assert not (tmp_path / "f.jsonl").exists()


def test_comments_attach_to_a_rating(tmp_path):
    store = FeedbackStore(tmp_path / "f.jsonl")
    rating_id = store.rate(FACTS, helpful=True)
    assert store.comment(rating_id, "  Clear   and kind.  ")
    assert not store.comment(rating_id, "   ")
    assert _records(tmp_path / "f.jsonl")[1]["comment"] == "Clear and kind."


def test_summary_counts_and_least_helpful_sources(tmp_path):
    store = FeedbackStore(tmp_path / "f.jsonl")
    store.rate(FACTS, helpful=False)
    store.rate(ReplyFacts("answer", None, ("doc:a",), "q"), helpful=False)
    store.rate(ReplyFacts("answer", None, ("doc:a",), "q"), helpful=False)
    store.rate(ReplyFacts("answer", None, ("doc:b",), "q"), helpful=True)
    store.rate(ReplyFacts("refusal", "dosing_advice", (), "q"), helpful=True)
    lines = [*(tmp_path / "f.jsonl").read_text().splitlines(), "not json"]
    summary = summarize(lines)
    assert summary.ratings == 5 and summary.unreadable_lines == 1
    assert summary.by_kind["answer"] == {"not_helpful": 3, "helpful": 1}
    assert [s.source for s in summary.least_helpful] == [
        "doc:a",  # a record without titles, as older ones are
        "Ketamine for Pain — Side effects",
        "Neuropathic Pain",
    ]


def test_a_comment_cannot_send_control_characters_to_a_terminal(tmp_path):
    store = FeedbackStore(tmp_path / "f.jsonl")
    store.comment(store.rate(FACTS, helpful=True) or "", "nice\x1b]0;pwned\x07 and \x1b[8mhidden")
    stored = (tmp_path / "f.jsonl").read_text()
    assert "\\u001b" not in stored and "\x1b" not in stored
    lines = [*stored.splitlines(), '{"type": "comment", "comment": "\\u001b[2J"}', "[1, 2]", "7"]
    lines.append('{"type": "rating", "rating": 5, "kind": null, "sources": [1]}')
    summary = summarize(lines)
    assert summary.unreadable_lines == 2 and summary.ratings == 2
    assert all("\x1b" not in text for _, text in summary.comment_texts)


def test_ketabot_feedback_prints_the_summary(tmp_path, capsys):
    store = FeedbackStore(tmp_path / "f.jsonl")
    store.comment(store.rate(FACTS, helpful=False) or "", "The side effects part was too short.")
    assert main(["feedback", "--file", str(tmp_path / "f.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "1 ratings and 1 comments" in out and "Ketamine for Pain — Side effects" in out
    assert "too short" not in out and "set store_question = true" in out
    config = tmp_path / "ketabot.toml"
    config.write_text("[clinic]\nstore_question = true\n")
    assert main(["--config", str(config), "feedback", "--file", str(tmp_path / "f.jsonl")]) == 0
    assert "[answer, not helpful] The side effects part was too short." in capsys.readouterr().out
    assert main(["feedback", "--file", str(tmp_path / "none.jsonl")]) == 0
    assert "No feedback yet" in capsys.readouterr().out
