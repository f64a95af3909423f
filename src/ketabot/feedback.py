"""Helpful / not-helpful ratings and comments, kept in a database, and their summary.

The same database counts the questions the sources did not answer (``content_gaps``,
written by :mod:`ketabot.gaps`: topic words only, never the question unless opted in).

A rating holds the rating, the reply's kind and reason, the cited chunk ids and
sources (title and section) and the time: never an IP address, session id, name or
browser detail. The question itself is kept only when the clinic opts in
(``store_question``), because patients type their own health details into it.

Where: SQLite in the home folder by default (WAL, so several processes on one host
share it), or any SQLAlchemy URL in ``database_url`` — PostgreSQL for replicas on several
hosts. The schema carries a version number; :data:`MIGRATIONS` brings any older database
up to date when a store opens it, in one transaction. A ``feedback.jsonl`` from earlier
versions is imported once and renamed ``*.imported``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

from ketabot.errors import FeedbackStoreError
from ketabot.types import Reply

log = logging.getLogger("ketabot")

HELPFUL = "helpful"
NOT_HELPFUL = "not_helpful"

_schema = MetaData()
_version = Table("ketabot_schema", _schema, Column("version", Integer, primary_key=True))
_imports = Table("ketabot_imports", _schema, Column("digest", String(64), primary_key=True))
_ratings = Table(
    "feedback_ratings",
    _schema,
    Column("id", String(32), primary_key=True),
    Column("time", String(32), nullable=False),
    Column("rating", String(16), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("reason", String(64)),
    Column("chunk_ids", Text, nullable=False),
    Column("sources", Text, nullable=False),
    Column("question", Text),
)
_comments = Table(
    "feedback_comments",
    _schema,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("time", String(32), nullable=False),
    Column("rating_id", String(32), nullable=False),
    Column("comment", Text, nullable=False),
)


# Questions the sources did not answer (ketabot gaps): the day, never the time, and the
# listed topic words they held; the question itself only when the clinic opts in.
_gaps = Table(
    "content_gaps",
    _schema,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("day", String(10), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("words", Text, nullable=False),
    Column("question", Text),
)


def _create_v1(connection: Connection) -> None:
    _schema.create_all(connection, tables=[_ratings, _comments, _imports])


def _create_v2(connection: Connection) -> None:
    _schema.create_all(connection, tables=[_gaps])


# Each entry brings a database from the version before it to its own; never edit one that
# has shipped, add the next.
MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [(1, _create_v1), (2, _create_v2)]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def database_url(settings: Any) -> str:
    """The configured database: ``database_url``, or SQLite in the home folder."""
    url = str(settings.database_url or "")
    if not url:
        return f"sqlite:///{Path(settings.home).resolve() / 'ketabot.db'}"
    if url.startswith(("postgresql://", "postgres://")):  # the driver installed is psycopg 3
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def connect(url: str) -> Engine:
    """An engine for ``url``; SQLite in WAL mode, waiting for a busy writer, not failing."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise FeedbackStoreError(f"cannot use the database {safe_url(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def migrate(engine: Engine, attempts: int = 5) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION`; returns the version found before.

    Replicas starting together may race to migrate: PostgreSQL serialises them with an
    advisory lock; with SQLite the loser's transaction fails and it tries again, to find
    the work done.
    """
    for attempt in range(attempts):
        try:
            return _migrate_once(engine)
        except (OperationalError, IntegrityError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return SCHEMA_VERSION  # not reached: the last attempt returns or raises


def _migrate_once(engine: Engine) -> int:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(47140)"))
        _version.create(connection, checkfirst=True)
        found = connection.execute(select(_version.c.version)).scalars().all()
        current = max(found, default=0)
        for version, step in MIGRATIONS:
            if version > current:
                step(connection)
                connection.execute(insert(_version).values(version=version))
    return current


def safe_url(url: str) -> str:
    """``url`` without its password, for messages."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':')[0]}@{tail}"


@dataclass(frozen=True)
class ReplyFacts:
    """What may be stored about a reply the patient rated."""

    kind: str
    reason: str | None
    chunk_ids: tuple[str, ...]
    question: str
    sources: tuple[str, ...] = ()
    """Each cited source as a maintainer reads it: "title — section"."""

    @classmethod
    def of(cls, reply: Reply) -> ReplyFacts:
        """The facts of one reply."""
        chunk_ids = tuple(c.chunk_id for c in reply.citations)
        sources = tuple(
            f"{c.title} — {c.section}" if c.section else c.title for c in reply.citations
        )
        return cls(reply.kind.value, reply.reason, chunk_ids, reply.question, sources)


class FeedbackStore:
    """Ratings and comments in the configured database; safe across threads and processes."""

    def __init__(
        self,
        url: str,
        *,
        enabled: bool = True,
        store_question: bool = False,
        legacy_file: Path | None = None,
    ) -> None:
        self.url = url
        self.enabled = enabled
        self.store_question = store_question
        self.legacy_file = legacy_file
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The database, opened, migrated and given any legacy file on first use."""
        with self._lock:
            if self._engine is None:
                engine = connect(self.url)
                migrate(engine)
                if self.legacy_file is not None:
                    import_jsonl(engine, self.legacy_file)
                self._engine = engine
            return self._engine

    def rate(self, facts: ReplyFacts, helpful: bool) -> str | None:
        """Store a rating; returns its id, to attach a comment to later."""
        if not self.enabled:
            return None
        rating_id = secrets.token_hex(8)
        row = {
            "id": rating_id,
            "time": _now(),
            "rating": HELPFUL if helpful else NOT_HELPFUL,
            "kind": facts.kind,
            "reason": facts.reason,
            "chunk_ids": json.dumps(list(facts.chunk_ids)),
            "sources": json.dumps(list(facts.sources), ensure_ascii=False),
            "question": facts.question if self.store_question else None,
        }
        with self.engine.begin() as connection:
            connection.execute(insert(_ratings).values(**row))
        return rating_id

    def comment(self, rating_id: str, text: str) -> bool:
        """Store an optional comment on an earlier rating."""
        text = _printable(text)[:1000]
        if not self.enabled or not text:
            return False
        row = {"time": _now(), "rating_id": rating_id, "comment": text}
        with self.engine.begin() as connection:
            connection.execute(insert(_comments).values(**row))
        return True

    def add_gap(self, topic: str, words: Iterable[str], question: str) -> None:
        """Count one question the sources did not answer, by its topic words."""
        row = {
            "day": _now()[:10],
            "topic": topic,
            "words": " ".join(words),
            "question": question if self.store_question else None,
        }
        with self.engine.begin() as connection:
            connection.execute(insert(_gaps).values(**row))

    def gaps(self) -> list[dict[str, Any]]:
        """Every recorded gap, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(_gaps).order_by(_gaps.c.seq)).mappings()
            return [dict(row) for row in rows]

    def records(self) -> Iterator[dict[str, Any]]:
        """Every rating and comment as a record (the JSON-lines shape), oldest first."""
        with self.engine.connect() as connection:
            ratings = connection.execute(select(_ratings).order_by(_ratings.c.time)).mappings()
            found = [_rating_record(dict(row)) for row in ratings]
            comments = connection.execute(select(_comments).order_by(_comments.c.seq)).mappings()
            found += [{"type": "comment", **dict(row)} for row in comments]
        # Ratings before the comments on them: a comment is always later than its rating.
        yield from sorted(found, key=lambda r: (r["time"], r["type"] == "comment"))


def _rating_record(row: dict[str, Any]) -> dict[str, Any]:
    record = {
        "type": "rating",
        **{k: v for k, v in row.items() if k not in ("chunk_ids", "sources", "question")},
        "chunk_ids": json.loads(row["chunk_ids"]),
        "sources": json.loads(row["sources"]),
    }
    if row.get("question") is not None:
        record["question"] = row["question"]
    return record


def import_jsonl(engine: Engine, path: Path) -> int:
    """Import a ``feedback.jsonl`` of earlier versions once; returns the records imported.

    The file's digest is recorded with its records in one transaction, so no replica and
    no restart imports it twice; the file is then renamed ``*.imported``.
    """
    if not path.is_file():
        return 0
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    count = 0
    try:
        with engine.begin() as connection:
            connection.execute(insert(_imports).values(digest=digest))
            for record in _readable(raw.decode("utf-8", errors="replace").splitlines()):
                count += _import_record(connection, record)
    except IntegrityError:  # imported already, by this process before or by another
        count = 0
    _set_aside(path)
    if count:
        log.info("imported %d feedback records from the earlier feedback file", count)
    return count


def _import_record(connection: Connection, record: dict[str, Any]) -> int:
    if record.get("type") == "comment":
        comment = _printable(str(record.get("comment", "")))[:1000]
        if not comment:
            return 0
        row = {
            "time": str(record.get("time", "")),
            "rating_id": str(record.get("rating_id", "")),
            "comment": comment,
        }
        connection.execute(insert(_comments).values(**row))
        return 1
    rating: dict[str, str | None] = {
        "id": str(record.get("id") or secrets.token_hex(8)),
        "time": str(record.get("time", "")),
        "rating": str(record.get("rating", "?")),
        "kind": str(record.get("kind", "?")),
        "reason": record.get("reason") if isinstance(record.get("reason"), str) else None,
        "chunk_ids": json.dumps([str(c) for c in record.get("chunk_ids") or []]),
        "sources": json.dumps([str(s) for s in record.get("sources") or []], ensure_ascii=False),
        "question": record.get("question") if isinstance(record.get("question"), str) else None,
    }
    connection.execute(insert(_ratings).values(**rating))
    return 1


def _set_aside(path: Path) -> None:
    try:
        path.rename(path.with_name(path.name + ".imported"))
    except OSError as exc:  # another process got there first, or a read-only folder
        log.info("the earlier feedback file stays where it is (%s)", type(exc).__name__)


def _readable(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            yield record


def _printable(text: str) -> str:
    """``text`` on one line, without control characters: no escape sequence reaches a terminal."""
    kept = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(kept.split())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SourceScore:
    """How one cited source (its title and section, or a chunk id in older records) was rated."""

    source: str
    helpful: int
    not_helpful: int

    @property
    def share_not_helpful(self) -> float:
        """Share of its ratings that were "not helpful"."""
        return self.not_helpful / (self.helpful + self.not_helpful)


@dataclass(frozen=True)
class Summary:
    """Counts for maintainers."""

    ratings: int
    comments: int
    by_kind: dict[str, Counter[str]] = field(default_factory=dict)
    least_helpful: list[SourceScore] = field(default_factory=list)
    unreadable_lines: int = 0
    comment_texts: list[tuple[str, str]] = field(default_factory=list)
    """(what was rated, the comment) for each comment, oldest first."""

    def render(self, show_comments: bool = False) -> str:
        """The summary for a maintainer's terminal; comment texts only when ``show_comments``.

        A comment is a patient's own words: the clinic shows them only once it has opted in
        to keeping patients' text (``store_question``).
        """
        lines = [
            f"{self.ratings} ratings and {self.comments} comments",
            f"  {'reply kind':14} {'helpful':>8} {'not helpful':>12}",
        ]
        for kind, counts in sorted(self.by_kind.items()):
            lines.append(f"  {kind:14} {counts[HELPFUL]:>8} {counts[NOT_HELPFUL]:>12}")
        if self.least_helpful:
            lines.append("Least helpful sources (rated not helpful / all ratings):")
            for s in self.least_helpful:
                lines.append(f"  {s.not_helpful}/{s.helpful + s.not_helpful}  {s.source}")
        if self.comment_texts and show_comments:
            lines.append("Comments (oldest first):")
            lines.extend(f"  [{rated}] {text}" for rated, text in self.comment_texts)
        elif self.comment_texts:
            lines.append("Comment texts are not shown: set store_question = true to read them.")
        if self.unreadable_lines:
            lines.append(f"({self.unreadable_lines} unreadable lines skipped)")
        return "\n".join(lines)


def summarize(lines: Iterable[str | dict[str, Any]], top: int = 5) -> Summary:
    """Ratings by reply kind and rating, and the sources most often rated not helpful.

    ``lines`` are records (:meth:`FeedbackStore.records`) or JSON lines of an older file.
    """
    by_kind: dict[str, Counter[str]] = {}
    per_source: dict[str, Counter[str]] = {}
    rated: dict[str, str] = {}
    texts: list[tuple[str, str]] = []
    ratings = unreadable = 0
    for line in lines:
        try:
            record = json.loads(line) if isinstance(line, str) else line
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            unreadable += 1
            continue
        if record.get("type") == "comment":
            about = rated.get(record.get("rating_id", ""), "an earlier reply")
            texts.append((about, _printable(str(record.get("comment", "")))))
            continue
        ratings += 1
        rating = str(record.get("rating", "?"))
        by_kind.setdefault(str(record.get("kind", "?")), Counter())[rating] += 1
        rated[record.get("id", "")] = f"{record.get('kind', '?')}, {rating.replace('_', ' ')}"
        # Older records name chunks only; newer ones also the title and section.
        for source in record.get("sources") or record.get("chunk_ids") or []:
            per_source.setdefault(_printable(str(source)), Counter())[rating] += 1
    scores = [SourceScore(name, c[HELPFUL], c[NOT_HELPFUL]) for name, c in per_source.items()]
    worst = sorted(
        (s for s in scores if s.not_helpful),
        key=lambda s: (-s.share_not_helpful, -s.not_helpful, s.source),
    )
    return Summary(ratings, len(texts), by_kind, worst[:top], unreadable, texts)
