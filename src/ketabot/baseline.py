"""The plain LangChain pipeline a newcomer would build, for comparison in ``ketabot eval``.

Straight from the tutorials: ``RecursiveCharacterTextSplitter(1000, 200)``,
the same embedding model, ``Chroma.from_documents``, top-3
``similarity_search``, and every reply an answer made of the three chunks.
It has no triage, no relevance floor and no disclaimer, so the report shows
what each of ketabot's parts is worth.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from ketabot.embeddings import Embedder, LangChainEmbeddings
from ketabot.evaluation import Case, Outcome
from ketabot.types import Citation, Kind, SourceDocument


@dataclass(frozen=True)
class PlainReply:
    """A baseline reply: retrieved chunks shown as the answer, with no disclaimer."""

    question: str
    citations: tuple[Citation, ...]
    kind: Kind = Kind.ANSWER
    reason: str | None = None
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

    def ask(self, question: str) -> PlainReply:
        """Every question is "answered" with the top three chunks."""
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

    def run(self, cases: Iterable[Case]) -> list[Outcome]:
        """Every case through the baseline, with rankings for the retrieval metrics."""
        outcomes = []
        for case in cases:
            started = time.perf_counter()
            reply = self.ask(case.question)
            seconds = time.perf_counter() - started
            ranking: tuple[str, ...] = ()
            relevant: tuple[str, ...] = ()
            if case.passages:
                ranking = tuple(str(d.id) for d in self.search(case.question, k=10))
                relevant = tuple(
                    str(c.id)
                    for c in self.chunks
                    if any(p in c.page_content for p in case.passages)
                )
            outcomes.append(Outcome(case, reply, seconds, ranking, relevant))
        return outcomes
