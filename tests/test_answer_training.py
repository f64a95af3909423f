"""Which blind answer rounds ``ketabot train-answers`` learns from, and how they are labelled."""

import json

import pytest
import yaml

from ketabot.evaluation.answer_training import blind_rows
from ketabot.text import sentence_spans

SOURCE = "000_0a577d18104b1c77.txt"  # the seed behind corpus/000-…, named in its front matter
ANSWER = "originally developed as an anesthetic"


def write_round(folder, name, items, *, scored):
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(items), encoding="utf-8")
    if scored:
        (folder / f"{name}.first.json").write_text(json.dumps({"summary": {}}), encoding="utf-8")


@pytest.mark.slow
def test_only_rounds_scored_once_are_learned_from(tmp_path, bot, settings):
    item = {"id": "x", "category": "answerable", "question": "what was ketamine first for"}
    write_round(
        tmp_path, "answer-r1", [item | {"expected": [ANSWER], "source": SOURCE}], scored=True
    )
    sealed = item | {"question": "what was it invented for", "expected": [ANSWER], "source": SOURCE}
    write_round(tmp_path, "answer-r2", [sealed], scored=False)
    asked = {row["question"] for row in blind_rows(tmp_path, settings.corpus, bot)}
    assert asked == {item["question"]}, "a sealed round stays blind"


@pytest.mark.slow
def test_answers_are_the_sentences_of_the_source_carrying_an_expected_phrase(
    tmp_path, bot, settings
):
    items = [
        {
            "id": "a",
            "category": "answerable",
            "question": "what was ketamine made for first",
            "expected": [ANSWER],
            "source": SOURCE,
        },
        {"id": "b", "category": "not_covered", "question": "how much does an infusion cost"},
        {
            "id": "c",
            "category": "answerable",
            "question": "q",
            "expected": ["no such words"],
            "source": SOURCE,
        },
    ]
    write_round(tmp_path, "answer-r1", items, scored=True)
    answered, *also, not_covered = blind_rows(tmp_path, settings.corpus, bot)
    assert answered["doc"] == "ketamine-neuropathic-pain-key-points", "its source first"
    assert all(row["question"] == answered["question"] for row in also)
    assert len(answered["answers"]) == 1 and ANSWER in answered["answers"][0]
    assert not_covered["answers"] == [] and not_covered["doc"], "set against the top article"
    # an answerable item whose phrase no sentence carries has no label, so it is left out


@pytest.mark.slow
def test_an_answer_found_in_several_articles_labels_each_of_them(tmp_path, bot, settings):
    # One phrase from the source article and one from another: both articles answer.
    other = next(
        (c.doc_id, c.text[start : start + 40])
        for c in bot.retriever.snapshot.chunks
        if c.doc_id != "ketamine-neuropathic-pain-key-points"
        for start, end in sentence_spans(c.text)
        if end - start > 60
    )
    item = {
        "id": "a",
        "category": "answerable",
        "question": "what was ketamine made for first",
        "expected": [ANSWER, other[1]],
        "source": SOURCE,
    }
    write_round(tmp_path, "answer-r1", [item], scored=True)
    rows = blind_rows(tmp_path, settings.corpus, bot)
    docs = [r["doc"] for r in rows]
    assert docs[0] == "ketamine-neuropathic-pain-key-points" and other[0] in docs
    assert len(set(docs)) == len(docs), "one row for each article"
    assert all(r["answers"] for r in rows)
