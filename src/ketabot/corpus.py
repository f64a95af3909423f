"""Reading source documents from ``corpus/`` and cleaning web boilerplate.

A corpus file is Markdown with a small YAML front-matter block (``id``,
``title`` and optionally ``publisher``, ``date``, ``kind``, ``url``,
``source``), plain ``.txt`` whose title, date and headings are inferred, or a
PDF, Word (``.docx``) or saved web page (``.html``) read by
:mod:`ketabot.readers`, whose metadata may sit in a sidecar ``<file>.yaml``
(``handout.pdf.yaml``) with the front-matter keys. Cleaning removes only what is
not the authors' content (page furniture, share buttons, calls to book);
sentences are kept exactly as written.

:func:`read_corpus` (what ``ketabot ingest`` uses) keeps every good file and names
each bad one with its reason; :func:`load_corpus` (evaluation and tooling) is all
or nothing: one bad file raises :class:`CorpusError` naming it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ketabot.errors import CorpusError
from ketabot.readers import READERS, Read
from ketabot.review import parse_every
from ketabot.safety.output import web_address
from ketabot.text import sentence_spans
from ketabot.types import SourceDocument

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
SUFFIXES = (*TEXT_SUFFIXES, *READERS)
SIDECAR = ".yaml"  # handout.pdf.yaml: the metadata of handout.pdf
FRONT_MATTER_KEYS = {
    *("id", "title", "publisher", "date", "kind", "url", "source"),
    *("reviewed", "review_every", "withdrawn"),  # governance: see review.py
}
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")

# Whole lines that are page furniture, never content.
_BOILERPLATE = re.compile(
    r"^\s*(?:top of page|bottom of page|\d+\s*views?\s*\d*\s*comments?|"
    r"you cannot copy content of this page|share this (?:post|article|page):?|"
    r"discover more articles|image:.*|skip to (?:main )?content|back to (?:top|blog)|"
    r"read more|previous post|next post|recent posts|tags?:.*|categories:.*)\s*$",
    re.IGNORECASE,
)
# Sentences that only ask the reader to book, call or visit; removed from paragraphs.
_CALL_TO_ACTION = re.compile(
    r"\b(?:contact (?:us|one of)|schedule (?:a|your) (?:free )?consultation|"
    r"book (?:a|an|your) (?:free )?(?:appointment|consultation)|call (?:us|today)|"
    r"request (?:a|an) appointment)\b",
    re.IGNORECASE,
)
_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|"
    "july|august|september|october|november|december"
)
_DATE_LINE = re.compile(
    rf"^\s*(?:(?:updated|published|posted|last updated)\s*:?\s*)?"
    rf"(?P<month>{_MONTHS})\.?\s+(?P<day>\d{{1,2}}),\s+(?P<year>\d{{4}})\s*$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[•·*-]|\d{1,2}[.)])\s+")


@dataclass(frozen=True)
class CorpusRead:
    """The good documents of a corpus folder, and each bad file with why it was left out."""

    documents: list[SourceDocument]
    problems: list[CorpusError]
    withdrawn: list[SourceDocument] = field(default_factory=list)
    """Readable documents marked ``withdrawn: true``: never indexed."""


def read_corpus(folder: Path, max_bytes: int | None = None) -> CorpusRead:
    """Every readable document in ``folder``; a bad file is named, never fatal to the rest.

    Raises only when the folder itself is missing. A second file claiming an id already
    used is the bad one (files are read in name order).
    """
    if not folder.is_dir():
        raise CorpusError(folder, "corpus folder not found")
    documents: list[SourceDocument] = []
    problems: list[CorpusError] = []
    seen: dict[str, Path] = {}
    for path in sorted(p for p in folder.iterdir() if is_source_file(p)):
        try:
            document = load_document(path, max_bytes)
        except CorpusError as exc:
            problems.append(exc)
            continue
        if document.id in seen:
            problems.append(
                CorpusError(path, f"id {document.id!r} is already used by {seen[document.id].name}")
            )
            continue
        seen[document.id] = path
        documents.append(document)
    kept = [d for d in documents if not d.withdrawn]
    return CorpusRead(kept, problems, [d for d in documents if d.withdrawn])


def load_corpus(folder: Path) -> list[SourceDocument]:
    """Every document in ``folder``, validated; raises on the first bad file."""
    found = read_corpus(folder)
    if found.problems:
        raise found.problems[0]
    if not found.documents:
        raise CorpusError(folder, f"no {', '.join(SUFFIXES)} files in the corpus folder")
    return found.documents


def is_source_file(path: Path) -> bool:
    """A corpus file by its suffix, not a README and not hidden or ``_``-prefixed."""
    return (
        path.is_file()
        and path.suffix.lower() in SUFFIXES
        and not path.name.lower().startswith(("readme", ".", "_"))
    )


def load_document(path: Path, max_bytes: int | None = None) -> SourceDocument:
    """One corpus file: Markdown with front matter, plain text, or a file a reader reads."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CorpusError(path, f"cannot read the file ({exc.strerror})") from None
    if max_bytes is not None and size > max_bytes:
        limit = max_bytes / 1e6
        raise CorpusError(path, f"the file is {size / 1e6:.1f} MB, over the {limit:g} MB limit")
    suffix = path.suffix.lower()
    if suffix in READERS:
        return parse_read(path, READERS[suffix](path))
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(path, f"cannot read the file as UTF-8 text ({exc})") from None
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if suffix == ".txt":
        return parse_text(path, raw)
    return parse_markdown(path, raw)


def parse_read(path: Path, read: Read) -> SourceDocument:
    """A document a reader produced; its sidecar ``<file>.yaml`` overrides what the file says.

    The reader's text is kept exactly (no cleaning): for a PDF, the page offsets point into it.
    """
    meta: dict[str, Any] = {"id": slugify(path.stem), "title": path.stem, **read.meta}
    sidecar = path.with_name(path.name + SIDECAR)
    if sidecar.is_file():
        try:
            extra = yaml.safe_load(sidecar.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise CorpusError(sidecar, f"cannot read the metadata file ({exc})") from None
        if not isinstance(extra, dict):
            raise CorpusError(sidecar, "the metadata file must be `key: value` lines")
        meta.update(extra)
    meta = _validate_meta(path, meta)
    meta.pop("source", None)
    if not sentence_spans(read.text):
        raise CorpusError(path, "the file has no text")
    return SourceDocument(path=path, body=read.text, page_starts=read.page_starts, **meta)


def parse_markdown(path: Path, raw: str) -> SourceDocument:
    """A Markdown document whose metadata is in a ``---`` front-matter block."""
    meta, body = _split_front_matter(path, raw)
    meta.pop("source", None)  # where the text came from: for maintainers, not for citations
    body = clean(body)
    if not sentence_spans(body):
        raise CorpusError(path, "the document has no text after its front matter")
    return SourceDocument(path=path, body=body, **meta)


def parse_text(path: Path, raw: str) -> SourceDocument:
    """A plain-text web article: title, date and headings are recognised, boilerplate dropped."""
    # Calls to book are page furniture of a scraped web article; a clinic's own Markdown
    # may legitimately say "call us", so only plain-text imports lose them.
    lines = [
        _drop_calls_to_action(line.rstrip())
        for line in raw.split("\n")
        if not _BOILERPLATE.match(line)
    ]
    date, lines = _take_date(lines)
    body = clean(_text_to_markdown(_drop_furniture(lines)))
    title, body = _take_title(body)
    if not sentence_spans(body):
        raise CorpusError(path, "the file has no text")
    return SourceDocument(
        id=slugify(path.stem), title=title or path.stem, body=body, path=path, date=date
    )


def clean(body: str) -> str:
    """Drop boilerplate lines and extra blank lines; keep every sentence as written."""
    kept: list[str] = []
    for line in body.split("\n"):
        if not _BOILERPLATE.match(line):
            kept.append(line.rstrip())
    text = "\n".join(kept)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def to_markdown(document: SourceDocument) -> str:
    """The document as a corpus Markdown file (how a ``.txt`` becomes an editable source)."""
    meta: dict[str, Any] = {"id": document.id, "title": document.title}
    for key in ("publisher", "date", "url", "reviewed", "review_every"):
        if getattr(document, key):
            meta[key] = getattr(document, key)
    meta["kind"] = document.kind
    head = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{head}---\n\n{document.body}"


def slugify(name: str) -> str:
    """A document id from a file name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:80] or "document"


def front_matter(path: Path) -> dict[str, Any]:
    """A Markdown document's front matter, validated, ``source`` included."""
    raw = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    return _split_front_matter(path, raw)[0]


def _split_front_matter(path: Path, raw: str) -> tuple[dict[str, Any], str]:
    match = re.match(r"^---\n(.*?)\n---\n?(.*)$", raw, re.DOTALL)
    if not match:
        raise CorpusError(path, "missing front matter (a block between --- lines at the top)")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise CorpusError(path, f"front matter is not valid YAML ({exc})") from None
    return _validate_meta(path, meta), match.group(2)


def _validate_meta(path: Path, meta: object) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise CorpusError(path, "front matter must be `key: value` lines")
    unknown = set(meta) - FRONT_MATTER_KEYS
    if unknown:
        allowed = ", ".join(sorted(FRONT_MATTER_KEYS))
        raise CorpusError(path, f"unknown front matter key(s) {sorted(unknown)}; use {allowed}")
    for key in ("id", "title"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise CorpusError(path, f"front matter needs a `{key}`")
    if not _ID.match(meta["id"]):
        raise CorpusError(path, f"id {meta['id']!r} must be lower-case letters, digits and -")
    meta["date"] = _iso_date(path, meta.get("date"))
    meta["reviewed"] = _iso_date(path, meta.get("reviewed"))
    if meta.get("review_every") is not None:
        if parse_every(meta["review_every"]) is None:
            raise CorpusError(
                path, f"review_every {meta['review_every']!r} must be like '12 months' or '90 days'"
            )
        meta["review_every"] = str(meta["review_every"])
    if not isinstance(meta.get("withdrawn", False), bool):
        raise CorpusError(path, "`withdrawn` must be true or false")
    for key in ("publisher", "kind", "url", "source"):
        if key in meta and not isinstance(meta[key], str):
            raise CorpusError(path, f"`{key}` must be text")
    if meta.get("url") and web_address(meta["url"]) is None:
        raise CorpusError(path, f"url {meta['url']!r} must be an http:// or https:// address")
    meta.setdefault("kind", "clinic-article")
    return {k: (v.strip() if isinstance(v, str) else v) for k, v in meta.items()}


def _iso_date(path: Path, value: object) -> str | None:
    if value is None or isinstance(value, dt.date):
        return value.isoformat() if value else None
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise CorpusError(path, f"date {value!r} must be written YYYY-MM-DD") from None


def _drop_calls_to_action(line: str) -> str:
    spans = sentence_spans(line)
    if not any(_CALL_TO_ACTION.search(line[s:e]) for s, e in spans):
        return line
    kept = [line[s:e] for s, e in spans if not _CALL_TO_ACTION.search(line[s:e])]
    indent = line[: len(line) - len(line.lstrip())]
    return indent + " ".join(kept) if kept else ""


def _take_date(lines: list[str]) -> tuple[str | None, list[str]]:
    for i, line in enumerate(lines[:12]):
        match = _DATE_LINE.match(line)
        if match:
            month = match.group("month")[:3].title()
            parsed = dt.datetime.strptime(f"{month} {match['day']} {match['year']}", "%b %d %Y")
            return parsed.date().isoformat(), lines[:i] + lines[i + 1 :]
    return None, lines


def _drop_furniture(lines: list[str]) -> list[str]:
    """Image alt texts (short, all lower-case, alone) and repeated title lines."""
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        alone = (i == 0 or not lines[i - 1].strip()) and (
            i + 1 == len(lines) or not lines[i + 1].strip()
        )
        if alone and re.fullmatch(r"[a-z][a-z ]{2,60}", stripped) and len(stripped.split()) <= 6:
            continue
        previous = next((k.strip() for k in reversed(kept) if k.strip()), None)
        if stripped and stripped == previous and len(stripped) < 100:
            continue
        kept.append(line)
    return kept


def _text_to_markdown(lines: list[str]) -> str:
    out: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        alone = (i == 0 or not lines[i - 1].strip()) and (
            i + 1 == len(lines) or not lines[i + 1].strip()
        )
        has_text_after = any(rest.strip() for rest in lines[i + 1 :])
        if alone and has_text_after and _looks_like_heading(stripped):
            out.append(f"## {stripped}")
        elif _BULLET.match(line):
            out.append("- " + _BULLET.sub("", line, count=1).strip())
        else:
            out.append(stripped)
    return "\n".join(out)


def _looks_like_heading(line: str) -> bool:
    words = line.split()
    if not line or len(line) > 100 or not (line[0].isupper() or line[0].isdigit()):
        return False
    if line.endswith(":"):
        return len(words) <= 8
    if line.endswith("?"):
        return len(sentence_spans(line)) == 1 and len(words) <= 20
    return not line.endswith((".", "!", ";", ",")) and len(words) <= 14


def _take_title(body: str) -> tuple[str | None, str]:
    first, _, rest = body.partition("\n")
    if first.startswith("## "):
        return first[3:].strip(), rest.lstrip("\n")
    return None, body
