"""Corpus folder -> the active index: load, chunk, embed what changed, switch generations."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ketabot.chunking import chunk_corpus
from ketabot.config import Settings
from ketabot.corpus import SUFFIXES, read_corpus
from ketabot.embeddings import Embedder, load_embedder
from ketabot.errors import CorpusError
from ketabot.index import Index, connect
from ketabot.review import overdue, review_line
from ketabot.types import IngestReport

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def ingest(
    settings: Settings,
    *,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], object] | None = None,
) -> IngestReport:
    """Index ``settings.corpus``; ``total`` hears the chunk count, ``progress`` each batch.

    A bad file is left out and named in the report; the rest is indexed. When no good
    document remains, nothing changes: the index that is serving stays as it was.
    """
    found = read_corpus(settings.corpus, max_bytes=settings.max_document_bytes)
    skipped = tuple(str(problem.args[0]) for problem in found.problems)
    if not found.documents:
        reasons = "; ".join(skipped) or f"no {', '.join(SUFFIXES)} files"
        raise CorpusError(settings.corpus, f"no document could be read ({reasons})")
    chunks = chunk_corpus(found.documents)
    if total is not None:
        total(len(chunks))
    embedder = embedder or load_embedder(
        settings.embed_model, settings.model_cache, settings.embed_runtime
    )
    index = Index(connect(settings), settings.collection)
    report = replace(
        index.sync(chunks, embedder, rebuild=rebuild, progress=progress),
        skipped=skipped,
        withdrawn=tuple(d.path.name for d in found.withdrawn),
        overdue=tuple(review_line(d) for d in found.documents if overdue(d, dt.date.today())),
    )
    if settings.chroma_url:
        return report  # a Chroma server manages its own disk
    return replace(report, reclaimed=reclaim(settings.home / "chroma"))


def reclaim(folder: Path) -> int:
    """Bytes freed from the embedded store after an ingest replaced a generation.

    Chroma deletes a collection's rows but leaves its HNSW segment folder on disk, and SQLite
    keeps the pages it freed, so each ingest left the store bigger (30 MB became 742 MB after
    38 ingests). A folder is removed only when no segment row names it (Chroma writes the row
    first); the database is vacuumed only if no other connection is mid-transaction, else
    the next ingest does it (its free pages are reused meanwhile).
    """
    database = folder / "chroma.sqlite3"
    if not database.is_file():
        return 0
    before = _size(folder)
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        live = {row[0] for row in db.execute("SELECT id FROM segments")}
    for path in folder.iterdir():
        if path.is_dir() and _UUID.fullmatch(path.name) and path.name not in live:
            shutil.rmtree(path, ignore_errors=True)
    # busy (another connection mid-transaction): the next ingest tries again
    with (
        contextlib.suppress(sqlite3.OperationalError),
        contextlib.closing(sqlite3.connect(database, timeout=0.5)) as db,
    ):
        db.execute("VACUUM")
    return max(before - _size(folder), 0)


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
