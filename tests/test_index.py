import shutil
from pathlib import Path

import chromadb.utils.embedding_functions as chroma_functions
import numpy as np
import pytest

import ketabot.index as index_module
from conftest import CORPUS, make_settings
from ketabot.chunking import chunk_corpus, sentence_keys
from ketabot.corpus import load_corpus
from ketabot.errors import IndexMismatchError, IndexMissingError
from ketabot.index import SENTENCES, Index, connect
from ketabot.text import sentence_spans

pytestmark = pytest.mark.slow


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in sorted(p.name for p in CORPUS.glob("00[0-2]*.md")):
        shutil.copy(CORPUS / name, folder / name)
    return folder


@pytest.fixture
def index(tmp_path: Path) -> Index:
    settings = make_settings(tmp_path)
    return Index(connect(settings), settings.collection)


def _chunks(folder: Path):
    return chunk_corpus(load_corpus(folder))


def test_first_ingest_adds_everything_and_reads_back(index, corpus, hash_embedder):
    chunks = _chunks(corpus)
    report = index.sync(chunks, hash_embedder)
    assert (report.added, report.unchanged, report.removed) == (len(chunks), 0, 0)
    assert report.documents == 3
    snapshot = index.open(hash_embedder)
    assert sorted(c.id for c in snapshot.chunks) == sorted(c.id for c in chunks)
    assert {c.id: c for c in snapshot.chunks} == {c.id: c for c in chunks}


def test_reingesting_an_unchanged_corpus_changes_nothing(index, corpus, hash_embedder):
    chunks = _chunks(corpus)
    done: list[int] = []
    first = index.sync(chunks, hash_embedder, progress=done.append)
    assert sum(done) == len(chunks)
    hash_embedder.embedded.clear()
    done.clear()
    again = index.sync(_chunks(corpus), hash_embedder, progress=done.append)
    assert sum(done) == len(chunks), "a bar over every chunk reaches its end"
    assert (again.added, again.removed, again.unchanged) == (0, 0, len(chunks))
    assert again.generation == first.generation
    assert hash_embedder.embedded == []


def test_sentence_vectors_are_stored_and_carried_over(index, corpus, hash_embedder):
    chunks = _chunks(corpus)
    index.sync(chunks, hash_embedder)
    snapshot = index.open(hash_embedder)
    keys = [key for chunk in chunks for key in sentence_keys(chunk)]
    stored = snapshot.sentence_vectors(keys)
    assert set(stored) == set(keys) and len(keys) > len(chunks)
    first = sentence_keys(chunks[0])[0]
    expected = hash_embedder.embed([chunks[0].text[slice(*sentence_spans(chunks[0].text)[0])]])[0]
    assert stored[first] == pytest.approx(expected, abs=1e-6)
    path = sorted(corpus.glob("*.md"))[2]
    path.write_text(path.read_text() + "\nOne more sentence about infusions.\n")
    hash_embedder.embedded.clear()
    index.sync(_chunks(corpus), hash_embedder)
    unchanged = {c.id for c in chunks} & {c.id for c in _chunks(corpus)}
    kept = [k for c in chunks if c.id in unchanged for k in sentence_keys(c)]
    assert len(unchanged) == len(chunks) - 1
    again = index.open(hash_embedder).sentence_vectors(kept)
    assert again.keys() == set(kept)
    assert all(np.allclose(again[k], stored[k], atol=1e-6) for k in kept)
    assert len(hash_embedder.embedded) < 10  # only the changed chunk and its sentences


def test_editing_one_file_reembeds_only_its_changed_chunks(index, corpus, hash_embedder):
    index.sync(_chunks(corpus), hash_embedder)
    path = sorted(corpus.glob("*.md"))[1]
    text = path.read_text()
    old_sentence = "Ketamine is a dissociative anesthetic that has been used for decades"
    assert old_sentence in text
    path.write_text(text.replace(old_sentence, "Ketamine is an anesthetic used for decades"))
    hash_embedder.embedded.clear()
    report = index.sync(_chunks(corpus), hash_embedder)
    assert (report.added, report.removed) == (1, 1)
    changed = next(c for c in _chunks(corpus) if "anesthetic used for decades" in c.text)
    # one chunk vector, and one vector for each of that chunk's sentences; nothing else
    assert len(hash_embedder.embedded) == 1 + len(sentence_keys(changed))
    assert "Ketamine is an anesthetic used for decades" in hash_embedder.embedded[0]
    snapshot = index.open(hash_embedder)
    assert any("anesthetic used for decades" in c.text for c in snapshot.chunks)
    assert not any(old_sentence in c.text for c in snapshot.chunks)


def test_an_edited_title_date_or_link_reaches_the_index_without_reembedding(
    index, corpus, hash_embedder
):
    first = index.sync(_chunks(corpus), hash_embedder)
    path = sorted(corpus.glob("*.md"))[1]
    text = path.read_text()
    path.write_text(
        text.replace(
            "date: 2023-11-19", "date: 2025-01-31\nurl: https://clinic.example/how"
        ).replace("title: Understanding How", "title: Reviewed - How")
    )
    hash_embedder.embedded.clear()
    report = index.sync(_chunks(corpus), hash_embedder)
    assert (report.added, report.removed) == (0, 0) and hash_embedder.embedded == []
    assert report.generation != first.generation
    edited = [c for c in index.open(hash_embedder).chunks if c.source == path.name]
    assert edited and all(c.title.startswith("Reviewed - How") for c in edited)
    assert {(c.date, c.url) for c in edited} == {("2025-01-31", "https://clinic.example/how")}


def test_deleting_a_file_removes_its_chunks(index, corpus, hash_embedder):
    index.sync(_chunks(corpus), hash_embedder)
    gone = sorted(corpus.glob("*.md"))[0]
    doc_id = load_corpus(corpus)[0].id
    gone.unlink()
    hash_embedder.embedded.clear()
    report = index.sync(_chunks(corpus), hash_embedder)
    assert report.added == 0 and report.removed > 0
    assert hash_embedder.embedded == []
    assert doc_id not in {c.doc_id for c in index.open(hash_embedder).chunks}


def test_a_model_mismatch_says_to_rebuild(index, corpus, hash_embedder, embedder):
    index.sync(_chunks(corpus), hash_embedder)
    with pytest.raises(IndexMismatchError) as info:
        index.open(embedder)
    assert "--rebuild" in str(info.value)
    with pytest.raises(IndexMismatchError):
        index.sync(_chunks(corpus), embedder)
    report = index.sync(_chunks(corpus), embedder, rebuild=True)
    assert report.added == len(_chunks(corpus))
    assert index.open(embedder).chunks


def test_no_index_yet(index, hash_embedder):
    with pytest.raises(IndexMissingError, match="ketabot ingest"):
        index.open(hash_embedder)


def test_chromas_default_embedding_function_never_runs(index, corpus, hash_embedder, monkeypatch):
    def forbidden(self, input):
        raise AssertionError("Chroma's default embedding function ran (it downloads a model)")

    monkeypatch.setattr(chroma_functions.DefaultEmbeddingFunction, "__call__", forbidden)
    monkeypatch.setattr(chroma_functions.ONNXMiniLM_L6_V2, "__call__", forbidden)
    index.sync(_chunks(corpus), hash_embedder)
    snapshot = index.open(hash_embedder)
    chunk = snapshot.chunks[0]
    vector = hash_embedder.embed([chunk.search_text])[0]
    best, similarity = snapshot.dense(vector, 3)[0]
    assert best.id == chunk.id and similarity == pytest.approx(1.0, abs=1e-4)


class ExplodingEmbedder:
    """Fails after the first batch, like an ingest that dies half-way."""

    def __init__(self, inner):
        self.inner, self.name, self.dimension, self.calls = inner, inner.name, inner.dimension, 0

    def embed(self, texts):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("killed mid-ingest")
        return self.inner.embed(texts)


def test_a_failed_ingest_leaves_the_previous_index_serving(
    index, corpus, hash_embedder, monkeypatch
):
    monkeypatch.setattr(index_module, "EMBED_BATCH", 4)  # several batches, so it dies part-way
    first = index.sync(_chunks(corpus), hash_embedder)
    before = sorted(c.id for c in index.open(hash_embedder).chunks)
    for path in corpus.glob("*.md"):
        path.write_text(path.read_text().replace("Ketamine", "The medicine"))
    with pytest.raises(RuntimeError, match="killed"):
        index.sync(_chunks(corpus), ExplodingEmbedder(hash_embedder))
    assert index.pointer().active == first.generation
    assert sorted(c.id for c in index.open(hash_embedder).chunks) == before
    names = {c.name for c in index.client.list_collections()}
    assert names == {index.prefix, first.generation, first.generation + SENTENCES}


def test_an_orphan_from_a_killed_ingest_is_removed_by_the_next(index, corpus, hash_embedder):
    first = index.sync(_chunks(corpus), hash_embedder)
    dead = f"{index.prefix}-g00000000000000-dead"
    for name in (dead, dead + SENTENCES):
        index.client.create_collection(name, embedding_function=None)
    path = sorted(corpus.glob("*.md"))[0]
    path.write_text(path.read_text() + "\nA new closing sentence for the test.\n")
    second = index.sync(_chunks(corpus), hash_embedder)
    names = {c.name for c in index.client.list_collections()}
    # the orphan and the replaced generation are gone: a reader of the latter asks again
    assert first.generation != second.generation
    assert names == {index.prefix, second.generation, second.generation + SENTENCES}


def test_the_same_code_works_against_a_chroma_server(
    chroma_server, tmp_path, corpus, hash_embedder
):
    settings = make_settings(tmp_path, chroma_url=chroma_server, collection="servertest")
    index = Index(connect(settings), settings.collection)
    chunks = _chunks(corpus)
    assert index.sync(chunks, hash_embedder).added == len(chunks)
    assert index.sync(chunks, hash_embedder).added == 0
    snapshot = Index(connect(settings), settings.collection).open(hash_embedder)
    assert len(snapshot.chunks) == len(chunks)
    vector = hash_embedder.embed([chunks[2].search_text])[0]
    assert snapshot.dense(vector, 1)[0][0].id == chunks[2].id
    assert not (tmp_path / "home" / "chroma").exists()  # nothing went to the embedded store


def test_an_index_missing_some_sentence_vectors_is_completed_by_the_next_ingest(
    index, corpus, hash_embedder
):
    chunks = chunk_corpus(load_corpus(corpus))
    index.sync(chunks, hash_embedder)
    pointer = index.pointer()
    sentences = index.client.get_collection(pointer.active + SENTENCES)
    context = [k for c in chunks for k in sentence_keys(c) if "+" in k]
    assert context  # the corpus has pronoun-led sentences, stored read with the one before
    sentences.delete(ids=context)  # as an index built before these vectors existed
    hash_embedder.embedded.clear()
    report = index.sync(chunks, hash_embedder)
    assert (report.added, report.removed) == (0, 0)
    snapshot = index.open(hash_embedder)
    assert set(snapshot.sentence_vectors(context)) == set(context)
    assert len(hash_embedder.embedded) == len(context)  # only the missing ones were embedded


def test_vectors_read_once_from_a_generation_are_kept_within_a_bound():
    import numpy as np

    from ketabot.index import VectorCache

    reads = []

    def read(keys):
        reads.append(list(keys))
        return {k: np.full(2, float(len(k)), dtype=np.float32) for k in keys if k != "gone"}

    cache = VectorCache(size=3)
    assert set(cache.get(["a", "bb", "gone"], read)) == {"a", "bb"}
    assert set(cache.get(["a", "bb", "ccc"], read)) == {"a", "bb", "ccc"}
    assert reads == [["a", "bb", "gone"], ["ccc"]]  # only what was not kept yet
    cache.get(["dddd"], read)  # over the bound: the least recently used ("a") goes
    cache.get(["a"], read)
    assert reads[-1] == ["a"]
