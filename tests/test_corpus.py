from pathlib import Path

import pytest

from conftest import CORPUS, SEEDS
from ketabot.corpus import load_corpus, load_document
from ketabot.errors import CorpusError
from ketabot.text import sentences

BOILERPLATE = [
    "top of page",
    "bottom of page",
    "37 views0 comments",
    "You cannot copy content of this page",
    "Share this post",
    "Discover more articles",
    "Image: ketamine mechanism",
    "schedule a free consultation",
    "contact one of Mind Body Centers locations",
    "person hiking in sand",
]

# Real lines from the seed articles that must survive cleaning word for word.
AUTHOR_LINES = [
    "Ketamine is an N-methyl-D-aspartate (NMDA) receptor antagonist.",
    "By blocking this receptor, ketamine inhibits the transmission of pain signals from the "
    "peripheral nerves to the brain.",
    "Intravenous ketamine infusion therapy involves the slow administration of ketamine through "
    "a vein, typically in a clinical setting or specialized pain management clinic.",
    "Individuals with a history of psychosis, uncontrolled hypertension, or significant "
    "cardiovascular disease may not be suitable candidates for ketamine therapy.",
    "A few examples are uncontrolled hypertension, active substance abuse, pregnancy or unstable "
    "cardiac disease.",
    "Looking to the future, ketamine holds promise as a nerve pain management option.",
]


@pytest.fixture(scope="module")
def documents():
    return load_corpus(CORPUS)


def test_the_corpus_has_the_five_seed_articles_with_front_matter(documents):
    assert len(documents) == 5
    by_id = {d.id: d for d in documents}
    nerve = by_id["ketamine-for-nerve-pain-treatment-options"]
    assert nerve.title == "Ketamine for Nerve Pain: Relief & Treatment Options"
    assert nerve.publisher == "Mind Body Centers"
    assert nerve.date == "2024-03-22"
    assert by_id["how-ketamine-works-chronic-neuropathic-pain"].date == "2023-11-19"
    assert all(d.kind == "clinic-article" for d in documents)


def test_boilerplate_is_gone(documents):
    text = "\n".join(d.body for d in documents).lower()
    for phrase in BOILERPLATE:
        assert phrase.lower() not in text


@pytest.mark.parametrize("line", AUTHOR_LINES)
def test_author_sentences_are_kept_exactly(documents, line):
    seeds = "\n".join(p.read_text() for p in SEEDS.glob("*.txt"))
    assert line in seeds, "the spot-check line must come from a real seed"
    assert any(line in d.body for d in documents)


def test_every_seed_sentence_survives_except_boilerplate(documents):
    # Titles moved into front matter still count as kept, so compare with the whole files.
    corpus_text = "\n".join(d.path.read_text() for d in documents)
    for seed in sorted(SEEDS.glob("*.txt")):
        for sentence in sentences(seed.read_text().replace("\u00a0", " ")):
            if any(b.lower() in sentence.lower() for b in BOILERPLATE) or len(sentence) < 25:
                continue
            assert sentence in corpus_text, f"{seed.name}: lost {sentence!r}"


def test_plain_text_seeds_load_and_clean_like_the_markdown(documents):
    for seed in sorted(SEEDS.glob("*.txt")):
        doc = load_document(seed)
        lowered = doc.body.lower()
        assert not any(b.lower() in lowered for b in BOILERPLATE), seed.name
        assert "##" in doc.body or seed.name.startswith("001")  # headings recognised
    assert load_document(SEEDS / "003_25e716d891a423cc.txt").date == "2024-03-22"
    assert load_document(SEEDS / "002_10d9420a008f55bd.txt").title.startswith("Ketamine for Pain")


def test_readme_is_not_a_source(documents):
    assert (CORPUS / "README.md").exists()
    assert all(d.path.name != "README.md" for d in documents)


GOOD = "---\nid: good-doc\ntitle: Good\n---\n\nKetamine is a medicine used by clinicians.\n"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("No front matter at all.\n", "missing front matter"),
        ("---\nid: [unclosed\ntitle: x\n---\nText here.\n", "not valid YAML"),
        ("---\ntitle: No id\n---\nText here.\n", "needs a `id`"),
        ("---\nid: Bad Id!\ntitle: t\n---\nText here.\n", "must be lower-case"),
        ("---\nid: a\ntitle: t\ndate: 22/03/2024\n---\nText here.\n", "YYYY-MM-DD"),
        ("---\nid: a\ntitle: t\ntittle: typo\n---\nText here.\n", "unknown front matter"),
        ("---\nid: a\ntitle: t\n---\n\n", "no text"),
        ("---\nid: a\ntitle: t\nurl: javascript:alert(1)\n---\nText.\n", "http:// or https://"),
    ],
)
def test_bad_files_are_rejected_by_name(tmp_path: Path, content: str, problem: str):
    (tmp_path / "01-good.md").write_text(GOOD)
    bad = tmp_path / "02-bad.md"
    bad.write_text(content)
    with pytest.raises(CorpusError) as info:
        load_corpus(tmp_path)
    assert "02-bad.md" in str(info.value)
    assert problem in str(info.value)
    assert "Nothing was changed in the index" in str(info.value)


def test_unreadable_and_duplicate_files_are_rejected_by_name(tmp_path: Path):
    (tmp_path / "a.md").write_text(GOOD)
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe\x00binary\x00junk")
    with pytest.raises(CorpusError, match=r"b\.txt.*UTF-8"):
        load_corpus(tmp_path)
    (tmp_path / "b.txt").unlink()
    (tmp_path / "c.md").write_text(GOOD)
    with pytest.raises(CorpusError, match=r"c\.md.*already used by a\.md"):
        load_corpus(tmp_path)


def test_missing_or_empty_folder(tmp_path: Path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match=r"no \.md"):
        load_corpus(tmp_path)


def test_a_converted_text_file_loads_back_the_same(tmp_path):
    from ketabot.cli import main

    seed = SEEDS / "003_25e716d891a423cc.txt"
    assert main(["convert", str(seed), "--out", str(tmp_path)]) == 0
    [written] = tmp_path.glob("*.md")
    original, converted = load_document(seed), load_document(written)
    assert (converted.id, converted.title, converted.date) == (
        original.id,
        original.title,
        original.date,
    )
    assert converted.body == original.body
    assert main(["convert", str(seed), "--out", str(tmp_path)]) == 2  # never overwrites
