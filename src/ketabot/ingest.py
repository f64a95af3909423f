"""Corpus folder -> the active index: load, chunk, embed what changed, switch generations."""

from __future__ import annotations

from collections.abc import Callable

from ketabot.chunking import chunk_corpus
from ketabot.config import Settings
from ketabot.corpus import load_corpus
from ketabot.embeddings import Embedder, load_embedder
from ketabot.index import Index, connect
from ketabot.types import IngestReport


def ingest(
    settings: Settings,
    *,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], object] | None = None,
) -> IngestReport:
    """Index ``settings.corpus``; ``total`` hears the chunk count, ``progress`` each batch."""
    chunks = chunk_corpus(load_corpus(settings.corpus))
    if total is not None:
        total(len(chunks))
    embedder = embedder or load_embedder(settings.embed_model)
    index = Index(connect(settings), settings.collection)
    return index.sync(chunks, embedder, rebuild=rebuild, progress=progress)
