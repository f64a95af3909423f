from dataclasses import replace
from pathlib import Path

from conftest import CORPUS
from ketabot.chunking import CHUNK_CHARS, chunk_document, sections
from ketabot.corpus import load_corpus
from ketabot.types import SourceDocument


def _doc(body: str, doc_id: str = "doc") -> SourceDocument:
    return SourceDocument(id=doc_id, title="T", body=body, path=Path("doc.md"))


def test_every_chunk_is_a_slice_of_its_document_within_one_section():
    for document in load_corpus(CORPUS):
        bounds = sections(document.body)
        for chunk in chunk_document(document):
            assert document.body[chunk.start : chunk.start + len(chunk.text)] == chunk.text
            section = next(s for s in bounds if s.start <= chunk.start < s.end)
            assert section.heading == chunk.section
            assert chunk.start + len(chunk.text) <= section.end
            assert "\n#" not in chunk.text


def test_chunks_are_quotable_sizes():
    chunks = [c for d in load_corpus(CORPUS) for c in chunk_document(d)]
    assert all(len(c.text) <= CHUNK_CHARS for c in chunks)
    assert sum(len(c.text) for c in chunks) / len(chunks) < 600


def test_headings_become_section_metadata():
    doc = _doc(
        "Intro text here.\n\n## Side Effects:\n\nNausea can happen.\n\n### Heart\n\nRate rises.\n"
    )
    chunks = chunk_document(doc)
    assert [(c.section, c.text) for c in chunks] == [
        (None, "Intro text here."),
        ("Side Effects", "Nausea can happen."),
        ("Heart", "Rate rises."),
    ]


def test_ids_are_stable_and_only_edited_text_changes_id():
    document = load_corpus(CORPUS)[3]
    first = [c.id for c in chunk_document(document)]
    assert first == [c.id for c in chunk_document(document)]
    target = chunk_document(document)[5]
    edited = replace(document, body=document.body.replace(target.text, target.text + " Edited."))
    second = [c.id for c in chunk_document(edited)]
    assert len(set(first) ^ set(second)) == 2  # one id gone, one new
    assert target.id not in second
    assert all(cid.startswith(f"{document.id}:") for cid in second)


def test_repeated_paragraphs_get_distinct_ids():
    doc = _doc("Same words here.\n\n" + "x" * 690 + "\n\nSame words here.\n")
    ids = [c.id for c in chunk_document(doc)]
    assert len(ids) == len(set(ids))
