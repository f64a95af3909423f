"""The labelled sets themselves: well-formed, balanced, and labels that cannot silently rot."""

from collections import Counter

import pytest

from conftest import CORPUS, EVAL
from ketabot.chunking import chunk_corpus
from ketabot.corpus import load_corpus
from ketabot.evaluation.cases import EXPECTED, load_cases


@pytest.fixture(scope="module")
def cases():
    return load_cases(EVAL)


def test_every_labelled_passage_phrase_is_in_exactly_one_chunk(cases):
    chunks = chunk_corpus(load_corpus(CORPUS))
    for case in cases:
        if case.split == "blind_answers":
            continue  # a blind round is kept as its writer wrote it; checked below
        for phrase in case.passages:
            hits = [c.id for c in chunks if phrase in c.text]
            assert len(hits) == 1, f"{case.id}: {phrase!r} is in {len(hits)} chunks"


def test_blind_answer_rounds_were_written_against_these_articles(cases):
    """Their writers quoted the raw articles; nearly every phrase survives the cleaning.

    The few that do not are web furniture the cleaning removed ("contact us to schedule a
    free consultation"), which ketabot rightly never quotes.
    """
    chunks = chunk_corpus(load_corpus(CORPUS))
    phrases = [p for c in cases if c.split == "blind_answers" for p in c.passages]
    found = [p for p in phrases if any(p in chunk.text for chunk in chunks)]
    assert len(phrases) >= 250
    assert len(found) >= 0.98 * len(phrases)


def test_size_categories_and_splits(cases):
    assert len({c.id for c in cases}) == len(cases)
    labelled = [c for c in cases if c.split in ("tune", "holdout")]
    assert len(labelled) >= 150
    counts = Counter(c.category for c in labelled)
    # "education" is the blind rounds' category (never-refused education questions)
    assert set(counts) == set(EXPECTED) - {"education"}
    assert {c.category for c in cases if c.split.startswith("blind")} >= {"education", "emergency"}
    assert counts["answerable"] >= 25
    holdout = sum(c.split == "holdout" for c in labelled) / len(labelled)
    assert 0.3 <= holdout <= 0.4
    for category in counts:
        in_category = [c for c in labelled if c.category == category]
        assert any(c.split == "holdout" for c in in_category), category


def test_probes_record_their_blind_first_results():
    import yaml

    probes = yaml.safe_load((EVAL / "probes.yaml").read_text())
    assert {p["split"] for p in probes} == {"probe"}
    blind = {r: [p["blind"] == "right" for p in probes if p["round"] == r] for r in (1, 2)}
    assert (sum(blind[1]), len(blind[1])) == (19, 30)
    assert (sum(blind[2]), len(blind[2])) == (30, 36)


def test_contrast_pairs(cases):
    pairs: dict[str, list] = {}
    for case in cases:
        if case.pair:
            pairs.setdefault(case.pair, []).append(case)
    assert len(pairs) >= 25
    for members in pairs.values():
        assert sorted(c.category for c in members) == ["dosing_advice", "education_twin"]
        assert len({c.split for c in members}) == 1


def test_dosing_requests_cover_the_hard_shapes(cases):
    text = " ".join(c.question.lower() for c in cases if c.category == "dosing_advice")
    for shape in [
        "novel",
        "hypothetically",
        "ignore",
        "system:",
        "my friend",
        "special k",
        "mutch",
        "k3tamine",
        "double",
        "taper",
        "give my husband",
        "pretend",
    ]:
        assert shape in text, shape


def test_only_blind_rounds_scored_once_are_read(tmp_path):
    import shutil

    from ketabot.evaluation.cases import blind_cases

    shutil.copy(EVAL / "blind" / "safety-r1.yaml", tmp_path / "sealed.yaml")
    assert blind_cases(tmp_path) == []  # no first result recorded: still sealed
    (tmp_path / "sealed.first.json").write_text("{}")
    scored = blind_cases(tmp_path)
    assert scored and {c.split for c in scored} == {"blind", "blind_es"}


def test_answerability_sentences_are_verbatim_from_their_article():
    import json
    import re

    articles = {}
    for path in (EVAL.parent / "corpus").glob("0*.md"):
        text = path.read_text(encoding="utf-8")
        articles[re.search(r"^id: (.+)$", text, re.M).group(1).strip()] = text
    lines = [
        json.loads(line)
        for path in sorted((EVAL / "answerability").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    assert len(lines) >= 1800
    assert sum(1 for x in lines if x["style"] == "not_covered") >= 300
    for x in lines:
        for sentence in x["answers"] + x["negatives"]:
            assert sentence in articles[x["doc"]], (x["question"], sentence)
        assert bool(x["answers"]) == (x["style"] != "not_covered"), x["question"]
