"""The plain LangChain pipeline a newcomer would build, for comparison in ``ketabot eval``.

Straight from the tutorials: ``RecursiveCharacterTextSplitter(1000, 200)``,
the same embedding model, ``Chroma.from_documents``, top-3
``similarity_search``, and every reply an answer made of the three chunks.
It has no triage, no relevance floor and no disclaimer, so the report shows
what each of ketabot's parts is worth.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from ketabot.embeddings import Embedder
from ketabot.types import Citation, Kind, Reason, SourceDocument


class LangChainEmbeddings(Embeddings):
    """Any :class:`Embedder` behind LangChain's ``Embeddings`` interface (for vector stores)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors for documents."""
        return self.embedder.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """The vector for one query."""
        return self.embedder.embed([text])[0].tolist()


@dataclass(frozen=True)
class PlainReply:
    """A baseline reply: retrieved chunks shown as the answer, with no disclaimer."""

    question: str
    citations: tuple[Citation, ...]
    kind: Kind = Kind.ANSWER
    reason: Reason | None = None
    evidence: tuple[str, ...] = field(default=(), compare=False)
    disclaimer: None = None

    @property
    def body(self) -> str:
        """The chunks, numbered."""
        return "\n\n".join(f"{c.quote} [{c.n}]" for c in self.citations)

    @property
    def text(self) -> str:
        """What the newcomer's page shows: just the chunks."""
        return self.body


class Baseline:
    """``Chroma.from_documents`` over 1000-character chunks; top-3 similarity search."""

    def __init__(self, documents: Iterable[SourceDocument], embedder: Embedder) -> None:
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        docs = [
            Document(page_content=d.body, metadata={"doc_id": d.id, "title": d.title})
            for d in documents
        ]
        self.embedder = embedder
        self.chunks = splitter.split_documents(docs)
        for i, chunk in enumerate(self.chunks):
            chunk.id = f"baseline-{i}"
        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        self.store = Chroma.from_documents(
            self.chunks,
            LangChainEmbeddings(embedder),
            ids=[str(c.id) for c in self.chunks],
            client=client,
            collection_name=f"baseline-{secrets.token_hex(4)}",
        )

    def search(self, question: str, k: int = 3) -> list[Document]:
        """The tutorial's retrieval step."""
        return self.store.similarity_search(question, k=k)

    def ask(self, question: str, history: Sequence[str] = ()) -> PlainReply:
        """Every question is "answered" with the top three chunks (history is ignored)."""
        citations = tuple(
            Citation(
                n=n,
                doc_id=doc.metadata["doc_id"],
                title=doc.metadata["title"],
                section=None,
                chunk_id=str(doc.id),
                quote=doc.page_content,
                passage=doc.page_content,
            )
            for n, doc in enumerate(self.search(question), start=1)
        )
        return PlainReply(question, citations)

    def prime(self, asked: Sequence[tuple[str, Sequence[str]]]) -> None:
        """The questions' vectors in batches (the search reads them from the cache)."""
        self.embedder.embed([question for question, _ in asked])

    def ranking(self, question: str, limit: int) -> tuple[str, ...]:
        """The chunk ids of the tutorial's similarity search."""
        return tuple(str(d.id) for d in self.search(question, k=limit))

    def relevant(self, phrases: Sequence[str]) -> tuple[str, ...]:
        """Its chunks that hold a labelled phrase."""
        return tuple(str(c.id) for c in self.chunks if any(p in c.page_content for p in phrases))
