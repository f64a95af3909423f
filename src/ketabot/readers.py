"""PDF, Word and web-page files into document text that quotes can be cut from.

Each reader returns a :class:`Read`: the text (Markdown headings where the file marks
them), the page each part of it came from (PDF), and whatever metadata the file itself
carries (title, date, address). The text a reader returns *is* the document: chunks are
exact slices of it, so a quote is verbatim from what the reader produced. A file that
cannot give text (encrypted, scanned images only, corrupt, no main text) raises
:class:`~ketabot.errors.CorpusError` naming it and why.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ketabot.errors import CorpusError
from ketabot.text import is_complete_sentence


@dataclass(frozen=True)
class Read:
    """What a reader got from one file."""

    text: str
    page_starts: tuple[int, ...] = ()
    """Offsets in ``text`` where each page begins (PDF only; page n starts at index n-1)."""
    meta: dict[str, str] = field(default_factory=dict)
    """Metadata the file carries itself: ``title``, ``date``, ``url``, ``publisher``."""


def read_pdf(path: Path) -> Read:
    """A PDF's text layer page by page, lines rejoined into paragraphs (pypdf)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise CorpusError(path, "the PDF is encrypted: save a copy without a password")
        pages = [_page_text(page.extract_text() or "") for page in reader.pages]
        title = (reader.metadata.title or "").strip() if reader.metadata else ""
    except (PdfReadError, OSError, ValueError, KeyError) as exc:
        raise CorpusError(path, f"cannot read the PDF ({type(exc).__name__})") from None
    if not any(pages):
        raise CorpusError(path, "the PDF has no text layer (scanned images?): it needs OCR first")
    text, starts = _join_pages(pages)
    return Read(text, starts, {"title": title} if title else {})


def read_docx(path: Path) -> Read:
    """A Word document's paragraphs: heading styles become headings, list styles bullets."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise CorpusError(path, f"cannot open the Word file ({type(exc).__name__})") from None
    title = ""
    lines: list[str] = []
    for paragraph in document.paragraphs:
        text = " ".join(paragraph.text.split())
        style = paragraph.style.name if paragraph.style is not None else ""
        if not text:
            continue
        if style == "Title" and not title:
            title = text
        elif style.startswith("Heading"):
            lines.append(f"## {text}")
        elif style.startswith("List"):
            lines.append(f"- {text}")
        else:
            lines.append(text)
    props = document.core_properties
    meta = {"title": title or (props.title or "").strip()}
    if props.created is not None:
        meta["date"] = props.created.date().isoformat()
    return Read("\n\n".join(lines), meta={k: v for k, v in meta.items() if v})


def read_html(path: Path) -> Read:
    """A saved web page's main text (trafilatura): navigation, ads and footers left out."""
    import trafilatura

    try:
        html = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise CorpusError(path, f"cannot read the file ({exc})") from None
    text = trafilatura.extract(
        html,
        output_format="markdown",
        include_comments=False,
        include_images=False,
        include_links=False,
        favor_precision=True,
    )
    if not text or not any(is_complete_sentence(line) for line in text.splitlines()):
        # a menu or a link list is not an article ketabot could quote from
        raise CorpusError(path, "no main text found in the web page")
    found = trafilatura.extract_metadata(html)
    meta = {}
    if found is not None:
        for key in ("title", "date", "url"):
            value = getattr(found, key, None)
            if isinstance(value, str) and value.strip():
                meta[key] = value.strip()
        if isinstance(found.sitename, str) and found.sitename.strip():
            meta["publisher"] = found.sitename.strip()
    return Read(_headings(text), meta=meta)


READERS: dict[str, Callable[[Path], Read]] = {
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".html": read_html,
    ".htm": read_html,
}


def _join_pages(pages: Iterable[str]) -> tuple[str, tuple[int, ...]]:
    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for page in pages:
        starts.append(offset)
        parts.append(page)
        offset += len(page) + 2
    return "\n\n".join(parts), tuple(starts)


# Typeset ligatures ("ﬁfteen") are one glyph in a PDF's text layer; the printed words have
# the letters, and a patient reading or searching the quote expects them.
_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
)

_SENTENCE_END = re.compile(r"[.!?:;)\]\"”]$")


def _page_text(extracted: str) -> str:
    return _reflow(extracted.translate(_LIGATURES))


def _reflow(page: str) -> str:
    """A page's lines as paragraphs: a line that does not end a sentence runs on.

    PDF text comes one printed line at a time; a sentence broken across lines must be one
    sentence again to be quoted. A short line with no closing punctuation followed by a
    capitalised one is a heading.
    """
    lines = [" ".join(line.split()) for line in page.splitlines()]
    lines = [line for line in lines if line]
    out: list[str] = []
    current = ""
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if not current and _looks_like_heading(line, following):
            out.append(f"## {line}")
            continue
        current = f"{current} {line}" if current else line
        if _SENTENCE_END.search(line) and (not following or following[0].isupper()):
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return "\n\n".join(out)


def _looks_like_heading(line: str, following: str) -> bool:
    return (
        len(line.split()) <= 10
        and not _SENTENCE_END.search(line)
        and line[0].isupper()
        and bool(following)
        and following[0].isupper()
    )


def _headings(markdown: str) -> str:
    """The extracted Markdown with every heading level as ``##`` (what the chunker reads)."""
    return re.sub(r"^#{1,6}[ \t]+", "## ", markdown.strip(), flags=re.MULTILINE)
