"""``ingest``: the store stays the size of the corpus however often it is rebuilt."""

import shutil

import pytest

from conftest import CORPUS, make_settings
from ketabot.ingest import ingest


def _size(folder):
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


@pytest.mark.slow
def test_twenty_ingests_keep_the_store_within_twice_a_fresh_build(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(tmp_path, corpus=corpus)
    store = settings.home / "chroma"
    note = corpus / "96-note.md"
    reclaimed = 0
    for n in range(20):
        if n % 2:  # unchanged, then edited
            note.write_text(f"---\nid: note\ntitle: Note\n---\n\nWe open at {n} am daily.\n")
        reclaimed += ingest(settings, embedder=embedder).reclaimed
    fresh = make_settings(tmp_path / "fresh", corpus=corpus)
    ingest(fresh, embedder=embedder)
    assert _size(store) <= 2 * _size(fresh.home / "chroma")
    assert reclaimed > 0, "the folders of deleted generations were removed and counted"
