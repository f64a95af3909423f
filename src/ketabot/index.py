"""The vector index in Chroma: the only module that imports chromadb.

Layout inside Chroma (embedded under ``KETABOT_HOME`` or a ``chroma run``
server at ``KETABOT_CHROMA_URL``):

* ``<prefix>-g<time>-<random>``: one *generation* of chunks with their
  vectors, complete and immutable once built;
* ``<prefix>-g<time>-<random>-sentences``: the same generation's sentence
  vectors, keyed ``<chunk id>#<n>``, so composing an answer fetches vectors
  instead of running the model on every candidate sentence;
* ``<prefix>``: an empty *pointer* collection whose metadata names the
  active generation, the previous one, and the embedding model and
  dimension they were built with.

An ingest builds a new generation to completion (unchanged chunks are
copied with their vectors, only new text is embedded), checks it, and
then flips the pointer in a single metadata write. Readers always follow
the pointer, so they see the old index or the new one, never a half-built
one; an ingest killed part-way leaves only an orphan that the next ingest
removes. The replaced generation is removed at once, so the store holds one
generation: a reader caught mid-query by the removal gets
:class:`GenerationGoneError` and asks again of the active one (``Bot``).

Embeddings are always computed by ketabot and passed in; collections are
opened with ``embedding_function=None`` so Chroma's default model (which
would download) can never run.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.collection_configuration import CreateHNSWConfiguration
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError, NotFoundError

from ketabot.chunking import sentence_keys, vector_units
from ketabot.config import Settings
from ketabot.embeddings import Embedder
from ketabot.errors import (
    GenerationGoneError,
    IndexMismatchError,
    IndexMissingError,
    IndexUnavailableError,
)
from ketabot.types import Chunk, IngestReport

Progress = Callable[[int], None]
EMBED_BATCH = 64
COPY_BATCH = 1000
ORPHAN_AGE_SECONDS = 15 * 60


def connect(settings: Settings) -> ClientAPI:
    """A Chroma client: the server at ``chroma_url`` or the embedded store in ``home``."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise IndexUnavailableError(f"bad KETABOT_CHROMA_URL {settings.chroma_url!r}")
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        path = settings.home / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except IndexUnavailableError:
        raise
    except Exception as exc:  # connection refused, bad folder, ... all mean "cannot open"
        where = settings.chroma_url or settings.home
        raise IndexUnavailableError(f"cannot open the Chroma index at {where}: {exc}") from None


@dataclass(frozen=True)
class Pointer:
    """What the pointer collection says."""

    active: str
    previous: str | None
    embed_model: str
    embed_dim: int
    ingest_seconds: float | None = None
    """How long the ingest that made ``active`` took (not recorded before version 0.2)."""


SENTENCES = "-sentences"
# Sentence vectors are only ever fetched by id, never searched, so their graph is built
# as cheaply as Chroma allows.
SENTENCE_HNSW: CreateHNSWConfiguration = {
    "space": "cosine",
    "ef_construction": 16,
    "max_neighbors": 4,
}


class Snapshot:
    """One generation opened for reading: its chunks in memory and dense search over it."""

    def __init__(
        self,
        generation: str,
        collection: Collection,
        chunks: list[Chunk],
        sentences: Collection | None = None,
    ) -> None:
        self.generation = generation
        self.chunks = chunks
        self.by_id = {chunk.id: chunk for chunk in chunks}
        self._collection = collection
        self._sentences = sentences
        # A generation never changes: what was read from it once can be kept.
        self._chunk_vectors = VectorCache()
        self._sentence_vectors = VectorCache()

    def dense(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """The ``k`` nearest chunks and their cosine similarity (higher is more similar)."""
        k = min(k, len(self.chunks))
        if k == 0:
            return []
        with _generation_gone(self.generation):
            result = self._collection.query(
                query_embeddings=[vector.tolist()], n_results=k, include=["distances"]
            )
        ids, distances = result["ids"][0], (result["distances"] or [[]])[0]
        # Chroma's cosine space reports distance = 1 - cosine similarity.
        return [(self.by_id[i], 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of some chunks (for lexical hits that dense search missed)."""
        collection = self._collection
        with _generation_gone(self.generation):
            return self._chunk_vectors.get(ids, lambda missing: _vectors(collection, missing))

    def sentence_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored sentence vectors by :func:`sentence_keys`; empty for an older index."""
        sentences = self._sentences
        if sentences is None:
            return {}
        with _generation_gone(self.generation):
            return self._sentence_vectors.get(keys, lambda missing: _vectors(sentences, missing))


class VectorCache:
    """Vectors read from one generation, the most recently used kept (a bounded number).

    Reading a question's candidate sentences from Chroma took 4-5 ms a time, twice per
    question; a clinic's corpus fits in the cache whole (50,000 vectors, about 75 MB), a
    100,000-chunk one keeps what its questions keep asking for.
    """

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._kept: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, keys: Sequence[str], read: Callable[[list[str]], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """The vectors of ``keys`` that exist; those not kept yet come from ``read``."""
        with self._lock:
            found = {k: self._kept[k] for k in keys if k in self._kept}
            for key in found:
                self._kept.move_to_end(key)
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            fresh = read(missing)
            found.update(fresh)
            with self._lock:
                self._kept.update(fresh)
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
        return found


@contextlib.contextmanager
def _generation_gone(generation: str) -> Iterator[None]:
    """Chroma failing on a generation an ingest removed, in our words.

    Usually "collection does not exist"; caught mid-removal Chroma can fail otherwise, so any
    Chroma error here leads the bot to re-open the active generation and ask once more (a
    second failure is a real one and is not caught again).
    """
    try:
        yield
    except ChromaError as exc:
        raise GenerationGoneError(
            f"index generation {generation} failed ({type(exc).__name__}); re-opening"
        ) from None


def _vectors(collection: Collection, ids: Sequence[str]) -> dict[str, np.ndarray]:
    if not ids:
        return {}
    got = collection.get(ids=list(ids), include=["embeddings"])
    embeddings = got["embeddings"] if got["embeddings"] is not None else []
    return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], embeddings, strict=True)}


class Index:
    """Builds, swaps and opens ketabot's generations in one Chroma database."""

    def __init__(self, client: ClientAPI, prefix: str = "ketabot") -> None:
        self.client = client
        self.prefix = prefix

    def pointer(self) -> Pointer | None:
        """The active generation, or ``None`` when nothing was ever ingested."""
        try:
            meta = self.client.get_collection(self.prefix, embedding_function=None).metadata
        except (NotFoundError, ValueError):
            return None
        if not meta or "active" not in meta:
            return None
        return Pointer(
            active=str(meta["active"]),
            previous=str(meta["previous"]) if meta.get("previous") else None,
            embed_model=str(meta.get("embed_model", "")),
            embed_dim=int(meta.get("embed_dim", 0)),
            ingest_seconds=_seconds(meta.get("ingest_seconds")),
        )

    def open(self, embedder: Embedder) -> Snapshot:
        """The active generation, checked against the configured model."""
        pointer = self.pointer()
        if pointer is None:
            raise IndexMissingError("there is no ketabot index yet")
        _check_model(pointer, embedder)
        with _generation_gone(pointer.active):  # another ingest may replace it meanwhile
            collection = self.client.get_collection(pointer.active, embedding_function=None)
            sentences = self._generation(pointer.active + SENTENCES)
            chunks = list(_read_chunks(collection))
        return Snapshot(pointer.active, collection, chunks, sentences)

    def sync(
        self,
        chunks: Sequence[Chunk],
        embedder: Embedder,
        *,
        rebuild: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Make the index hold exactly ``chunks``, embedding only what is new."""
        started = time.perf_counter()
        pointer = self.pointer()
        if pointer is not None and not rebuild:
            _check_model(pointer, embedder)
        old = None if pointer is None else self._generation(pointer.active)
        existing = {} if old is None else _all_metadata(old)
        desired = {chunk.id: chunk for chunk in chunks}
        reuse = set() if rebuild or old is None else existing.keys() & desired.keys()
        added = [chunk for chunk in chunks if chunk.id not in reuse]
        kept = [desired[chunk_id] for chunk_id in sorted(reuse)]
        removed = len(existing.keys() - desired.keys())
        generation = pointer.active if pointer else None
        # An edited title, date or link changes no chunk id, yet must reach the citations.
        restamped = any(_stale(existing[c.id], _to_metadata(c)) for c in kept)
        unchanged = old is not None and not rebuild and not added and not removed
        unchanged = unchanged and not restamped
        if progress is not None and reuse:
            progress(len(reuse))  # kept as they are: counted done, so a bar reaches its end
        if unchanged and self._complete(pointer, chunks):
            self._remove_orphans(pointer)
        else:
            generation = self._build(old, kept, added, embedder, progress)
            self._flip(generation, pointer, embedder, time.perf_counter() - started)
        return IngestReport(
            documents=len({chunk.doc_id for chunk in chunks}),
            chunks=len(desired),
            added=len(added),
            unchanged=len(reuse),
            removed=removed,
            seconds=time.perf_counter() - started,
            generation=generation,
        )

    def _build(
        self,
        old: Collection | None,
        kept: list[Chunk],
        added: list[Chunk],
        embedder: Embedder,
        progress: Progress | None,
    ) -> str:
        # to the microsecond, so two ingests in one second still sort in the order they ran
        name = f"{self.prefix}-g{datetime.now(UTC):%Y%m%d%H%M%S%f}-{secrets.token_hex(3)}"
        new = self._create(name, embedder, {"space": "cosine"})
        sentences = self._create(name + SENTENCES, embedder, SENTENCE_HNSW)
        try:
            if old is not None and kept:
                self._copy_kept(old, new, sentences, kept, embedder)
            self._embed_added(new, sentences, added, embedder, progress)
            _check_counts(new, sentences, [*kept, *added])
        except BaseException:
            # Best effort: a process killed outright leaves an orphan for the next ingest.
            self._drop(name)
            raise
        return name

    def _create(self, name: str, embedder: Embedder, hnsw: CreateHNSWConfiguration) -> Collection:
        return self.client.create_collection(
            name,
            embedding_function=None,
            configuration={"hnsw": hnsw},
            metadata={
                "embed_model": embedder.name,
                "embed_dim": embedder.dimension,
                "created": time.time(),
            },
        )

    def _complete(self, pointer: Pointer | None, chunks: Sequence[Chunk]) -> bool:
        """Whether the active generation stores every vector this version of ketabot reads."""
        sentences = None if pointer is None else self._generation(pointer.active + SENTENCES)
        expected = sum(len(sentence_keys(chunk)) for chunk in chunks)
        return sentences is not None and sentences.count() == expected

    def _copy_kept(
        self,
        old: Collection,
        new: Collection,
        sentences: Collection,
        kept: list[Chunk],
        embedder: Embedder,
    ) -> None:
        _copy(old, new, [chunk.id for chunk in kept])
        # The id follows the text only: a title, date or link edited since comes from here.
        for batch in _batches(kept, COPY_BATCH):
            new.update(ids=[c.id for c in batch], metadatas=[_to_metadata(c) for c in batch])
        old_sentences = self._generation(old.name + SENTENCES)
        if old_sentences is not None:
            _copy(old_sentences, sentences, [k for chunk in kept for k in sentence_keys(chunk)])
        # Vectors an older index lacks (all of them, or a kind added since) are embedded once.
        for batch in _batches(kept, EMBED_BATCH):
            keys = [k for chunk in batch for k in sentence_keys(chunk)]
            have = frozenset(sentences.get(ids=keys, include=[])["ids"]) if keys else frozenset()
            if len(have) < len(keys):
                _add_sentences(sentences, batch, embedder, skip=have)

    def _embed_added(
        self,
        new: Collection,
        sentences: Collection,
        added: list[Chunk],
        embedder: Embedder,
        progress: Progress | None,
    ) -> None:
        for batch in _batches(added, EMBED_BATCH):
            vectors = embedder.embed([chunk.search_text for chunk in batch])
            new.add(
                ids=[chunk.id for chunk in batch],
                embeddings=vectors.tolist(),
                documents=[chunk.text for chunk in batch],
                metadatas=[_to_metadata(chunk) for chunk in batch],
            )
            _add_sentences(sentences, batch, embedder)
            if progress:
                progress(len(batch))

    def _drop(self, name: str) -> None:
        for part in (name, name + SENTENCES):
            if self._generation(part) is not None:
                self.client.delete_collection(part)

    def _flip(
        self, generation: str, pointer: Pointer | None, embedder: Embedder, seconds: float
    ) -> None:
        meta: dict[str, Any] = {
            "active": generation,
            "previous": pointer.active if pointer else "",
            "embed_model": embedder.name,
            "embed_dim": embedder.dimension,
            "ingest_seconds": round(seconds, 3),
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        collection = self.client.get_or_create_collection(
            self.prefix, embedding_function=None, metadata=meta
        )
        collection.modify(metadata=meta)
        if pointer is not None and pointer.active != generation:
            self._drop(pointer.active)  # its readers, if any, ask again of the new one
        self._remove_orphans(self.pointer())

    def _remove_orphans(self, pointer: Pointer | None) -> None:
        # Only the active generation: a reader of the one replaced asks again (see above).
        keep = {pointer.active} if pointer else set()
        now = time.time()
        for collection in self.client.list_collections():
            name = collection.name.removesuffix(SENTENCES)
            if not name.startswith(f"{self.prefix}-g") or name in keep:
                continue
            created = float((collection.metadata or {}).get("created", 0))
            retired = pointer is not None and name < pointer.active
            # A generation newer than the active one may be another ingest still building;
            # leave it alone until it is clearly abandoned.
            if retired or now - created > ORPHAN_AGE_SECONDS:
                self.client.delete_collection(collection.name)

    def _generation(self, name: str) -> Collection | None:
        try:
            return self.client.get_collection(name, embedding_function=None)
        except (NotFoundError, ValueError):
            return None


def _add_sentences(
    sentences: Collection,
    chunks: Sequence[Chunk],
    embedder: Embedder,
    skip: frozenset[str] = frozenset(),
) -> None:
    units = [
        (k, chunk.text[s:e]) for chunk in chunks for k, s, e in vector_units(chunk) if k not in skip
    ]
    if units:
        vectors = embedder.embed([text for _, text in units])
        sentences.add(ids=[k for k, _ in units], embeddings=vectors.tolist())


def _check_counts(new: Collection, sentences: Collection, chunks: list[Chunk]) -> None:
    expected = len(chunks)
    expected_sentences = sum(len(sentence_keys(chunk)) for chunk in chunks)
    if new.count() != expected or sentences.count() != expected_sentences:
        raise IndexUnavailableError(
            f"the new index holds {new.count()} chunks and {sentences.count()} sentences, "
            f"expected {expected} and {expected_sentences}; nothing changed"
        )


def _check_model(pointer: Pointer, embedder: Embedder) -> None:
    if pointer.embed_model != embedder.name or pointer.embed_dim != embedder.dimension:
        raise IndexMismatchError(
            f"the index was built with {pointer.embed_model!r} ({pointer.embed_dim} dimensions) "
            f"but the configured model is {embedder.name!r} ({embedder.dimension} dimensions)"
        )


def _to_metadata(chunk: Chunk) -> dict[str, str | int]:
    # Chroma metadata values cannot be None; "" stands for "no section" or "no publisher".
    return {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "section": chunk.section or "",
        "start": chunk.start,
        "position": chunk.position,
        "publisher": chunk.publisher or "",
        "source": chunk.source or "",
        "date": chunk.date or "",
        "url": chunk.url or "",
        "page": chunk.page or 0,  # 0: a document without printed pages
    }


def _from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        id=chunk_id,
        doc_id=str(meta["doc_id"]),
        title=str(meta["title"]),
        section=str(meta["section"]) or None,
        text=text,
        start=int(meta["start"]),
        position=int(meta["position"]),
        publisher=str(meta.get("publisher") or "") or None,
        source=str(meta.get("source") or "") or None,
        date=str(meta.get("date") or "") or None,
        url=str(meta.get("url") or "") or None,
        page=int(meta.get("page") or 0) or None,
    )


def _read_chunks(collection: Collection) -> Iterable[Chunk]:
    chunks: list[Chunk] = []
    for offset in range(0, collection.count(), COPY_BATCH):
        got = collection.get(limit=COPY_BATCH, offset=offset, include=["documents", "metadatas"])
        for chunk_id, text, meta in zip(
            got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True
        ):
            chunks.append(_from_record(chunk_id, text, dict(meta)))
    chunks.sort(key=lambda c: (c.doc_id, c.position))
    return chunks


def _stale(stored: dict[str, Any], wanted: dict[str, str | int]) -> bool:
    # Only the keys ketabot writes: Chroma's update merges, so a key dropped from
    # _to_metadata would linger in stored records and must not force a rebuild every time.
    return any(stored.get(key) != value for key, value in wanted.items())


def _all_metadata(collection: Collection) -> dict[str, dict[str, Any]]:
    stored: dict[str, dict[str, Any]] = {}
    for offset in range(0, collection.count(), COPY_BATCH):
        got = collection.get(limit=COPY_BATCH, offset=offset, include=["metadatas"])
        stored.update(zip(got["ids"], [dict(m or {}) for m in got["metadatas"] or []], strict=True))
    return stored


def _copy(old: Collection, new: Collection, ids: list[str]) -> None:
    for batch in _batches(ids, COPY_BATCH):
        got = old.get(ids=list(batch), include=["embeddings", "documents", "metadatas"])
        if not got["ids"]:
            continue
        documents, metadatas = got["documents"], got["metadatas"]
        # Sentence records have vectors only; Chroma rejects a list of None documents.
        new.add(
            ids=got["ids"],
            embeddings=got["embeddings"],
            documents=documents if documents and documents[0] is not None else None,
            metadatas=metadatas if metadatas and metadatas[0] is not None else None,
        )


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
