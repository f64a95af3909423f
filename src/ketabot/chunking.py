"""Documents into quotable chunks: pure, deterministic, section-aware.

A chunk is one to a few paragraphs of a single section, cut with LangChain's
recursive splitter at paragraph, line and sentence boundaries. The splitter
keeps its separators and the chunk's start offset, so every chunk is an
exact slice of the document body (checked below, not assumed): quotes taken
from a chunk are therefore verbatim from the source file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ketabot.text import needs_antecedent, sentence_spans
from ketabot.types import Chunk, SourceDocument

CHUNK_CHARS = 700
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


@dataclass(frozen=True)
class Section:
    """A heading and the span of body text it governs."""

    heading: str | None
    start: int
    end: int


def _splitter() -> RecursiveCharacterTextSplitter:
    # keep_separator="end" makes the splitter rejoin pieces with exactly the text that was
    # between them, so chunks stay slices of the original; the sentence separator lets a
    # long paragraph break between sentences, never inside one.
    return RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_CHARS,
        chunk_overlap=0,
        separators=[r"\n\s*\n", r"\n", r"(?<=[.!?])\s+", r"\s+"],
        is_separator_regex=True,
        keep_separator="end",
        add_start_index=True,
        strip_whitespace=True,
    )


def sections(body: str) -> list[Section]:
    """The document's sections; text before the first heading has no heading."""
    found: list[Section] = []
    headings = list(_HEADING.finditer(body))
    first_start = headings[0].start() if headings else len(body)
    if body[:first_start].strip():
        found.append(Section(None, 0, first_start))
    for i, match in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(body)
        title = match.group(2).strip().rstrip(":").strip()
        found.append(Section(title, match.end(), end))
    return found


def chunk_document(document: SourceDocument) -> list[Chunk]:
    """All chunks of one document, in reading order, with stable content-derived ids."""
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    splitter = _splitter()
    for section in _by_page(sections(document.body), document.page_starts):
        for start, text in _slices(document.body, section, splitter):
            chunk_id = _chunk_id(document.id, section.heading, text, seen)
            chunks.append(
                Chunk(
                    id=chunk_id,
                    doc_id=document.id,
                    title=document.title,
                    section=section.heading,
                    text=text,
                    start=start,
                    position=len(chunks),
                    publisher=document.publisher,
                    source=document.path.name,
                    date=document.date,
                    url=document.url,
                    page=document.page_at(start),
                )
            )
    return chunks


def _by_page(found: list[Section], page_starts: tuple[int, ...]) -> list[Section]:
    """Sections cut where a printed page begins, so every chunk (and quote) has one page."""
    cut: list[Section] = []
    for section in found:
        start = section.start
        for page_start in page_starts:
            if start < page_start < section.end:
                cut.append(Section(section.heading, start, page_start))
                start = page_start
        cut.append(Section(section.heading, start, section.end))
    return cut


def chunk_corpus(documents: Iterable[SourceDocument]) -> list[Chunk]:
    """Chunks of every document."""
    return [chunk for document in documents for chunk in chunk_document(document)]


def sentence_key(chunk_id: str, n: int) -> str:
    """The id of a chunk's n-th sentence (as :func:`ketabot.text.sentence_spans` counts)."""
    return f"{chunk_id}#{n}"


def context_key(chunk_id: str, n: int) -> str:
    """The id of a chunk's n-th sentence read together with the sentence before it."""
    return f"{chunk_id}#{n - 1}+{n}"


def vector_units(chunk: Chunk) -> list[tuple[str, int, int]]:
    """``(key, start, end)`` of every span of ``chunk`` that gets a vector at ingest.

    Each sentence, and each pronoun-led sentence together with the one before it, which is
    how the composer quotes it: so answering never runs the model on a passage.
    """
    spans = sentence_spans(chunk.text)
    units = [(sentence_key(chunk.id, n), s, e) for n, (s, e) in enumerate(spans)]
    units += [
        (context_key(chunk.id, n), spans[n - 1][0], e)
        for n, (s, e) in enumerate(spans)
        if n and needs_antecedent(chunk.text[s:e])
    ]
    return units


def sentence_keys(chunk: Chunk) -> list[str]:
    """Ids of all of a chunk's stored sentence vectors (:func:`vector_units`), in order."""
    return [key for key, _, _ in vector_units(chunk)]


def _slices(
    body: str, section: Section, splitter: RecursiveCharacterTextSplitter
) -> Iterator[tuple[int, str]]:
    content = body[section.start : section.end]
    for piece in splitter.create_documents([content]):
        offset = piece.metadata["start_index"]
        start = section.start + offset
        text = piece.page_content
        if offset < 0 or body[start : start + len(text)] != text:
            raise AssertionError(f"chunk is not a slice of its document: {text[:60]!r}")
        yield start, text


def _chunk_id(doc_id: str, heading: str | None, text: str, seen: dict[str, int]) -> str:
    digest = hashlib.sha256(f"{heading or ''}\x1f{text}".encode()).hexdigest()[:16]
    base = f"{doc_id}:{digest}"
    # The same paragraph twice in one document still needs two ids; the n-th repeat is
    # numbered in reading order so ids stay stable while the text does.
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}-{seen[base]}"
