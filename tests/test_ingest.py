"""``ingest``: the store stays the size of the corpus however often it is rebuilt."""

import shutil

import pytest

from conftest import CORPUS, make_settings
from ketabot.corpus import load_corpus
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


@pytest.mark.slow
def test_ingests_killed_at_any_moment_leave_a_complete_index(tmp_path, embedder):
    """``ketabot ingest`` SIGKILLed at half and 90 % of its run: the index is always whole.

    Whole means the chunks of one version of the corpus, never a mix or a part.
    """
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from conftest import subprocess_env
    from ketabot.chunking import chunk_corpus
    from ketabot.corpus import load_corpus
    from ketabot.index import Index, connect

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(tmp_path, corpus=corpus)
    command = [str(Path(sys.executable).parent / "ketabot"), "ingest"]
    env = subprocess_env(KETABOT_HOME=str(settings.home), KETABOT_CORPUS=str(corpus))
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
    duration = time.monotonic() - started
    versions = [_contents(chunk_corpus(load_corpus(corpus)))]
    for n, share in enumerate((0.5, 0.9)):
        for path in corpus.glob("*.md"):  # a changed corpus, so the ingest has work to do
            path.write_text(path.read_text() + f"\nA closing line, version {n}.\n")
        versions.append(_contents(chunk_corpus(load_corpus(corpus))))
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(duration * share)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        served = _contents(Index(connect(settings), settings.collection).open(embedder).chunks)
        assert served in versions, f"killed at {share:.0%}: the index is not one whole version"
    ingest(settings, embedder=embedder)
    final = Index(connect(settings), settings.collection).open(embedder).chunks
    assert _contents(final) == versions[-1]


def _contents(chunks):
    return sorted((c.id, c.text) for c in chunks)


def test_a_bad_file_is_left_out_and_named_while_the_rest_is_indexed(tmp_path, hash_embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "scan.pdf").write_bytes(b"%PDF-1.4 not a real pdf")
    (corpus / "notes.docx").write_bytes(b"not a zip at all")
    settings = make_settings(tmp_path, corpus=corpus)
    report = ingest(settings, embedder=hash_embedder)
    assert report.documents == len(load_corpus(CORPUS))
    assert [line.split(":")[0] for line in report.skipped] == [
        str(corpus / "notes.docx"),
        str(corpus / "scan.pdf"),
    ]
    assert "2 files left out" in report.summary()


def test_when_no_file_can_be_read_the_live_index_is_unchanged(tmp_path, hash_embedder):
    from ketabot.errors import CorpusError
    from ketabot.index import Index, connect

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(tmp_path, corpus=corpus)
    ingest(settings, embedder=hash_embedder)
    index = Index(connect(settings), settings.collection)
    before = index.pointer()
    for path in corpus.iterdir():
        path.unlink()
    (corpus / "scan.pdf").write_bytes(b"%PDF-1.4 not a real pdf")
    (corpus / "huge.md").write_text("---\nid: huge\ntitle: Huge\n---\n\n" + "Words here. " * 300)
    tiny = make_settings(tmp_path, corpus=corpus, max_document_mb=0.001)
    with pytest.raises(CorpusError, match=r"no document could be read.*huge\.md.*MB limit"):
        ingest(tiny, embedder=hash_embedder)
    assert Index(connect(settings), settings.collection).pointer() == before


def test_bad_documents_added_to_a_served_corpus_leave_its_index_as_it_was(tmp_path, hash_embedder):
    """Each kind of bad document (encrypted or scanned PDF, damaged Word file, a page with no
    main text, a file over the size limit) is named, and the index serving stays the same."""
    from ketabot.index import Index, connect
    from test_readers import BAD_FILES, make_html

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(tmp_path, corpus=corpus, max_document_mb=0.03)
    ingest(settings, embedder=hash_embedder)
    before = Index(connect(settings), settings.collection).pointer()
    for name, (make, _) in BAD_FILES.items():
        make(corpus / name)
    make_html(corpus / "big.html", "<html><body><p>" + "Ketamine is studied. " * 2000 + "</p>")
    report = ingest(settings, embedder=hash_embedder)
    named = sorted(line.split(":")[0].rsplit("/", 1)[-1] for line in report.skipped)
    assert named == sorted([*BAD_FILES, "big.html"])
    assert any("big.html" in line and "MB limit" in line for line in report.skipped)
    assert (report.added, report.removed) == (0, 0)
    assert Index(connect(settings), settings.collection).pointer() == before
