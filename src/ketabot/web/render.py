"""Replies as HTML for the chat page: pure functions, testable without Gradio.

Everything from a reply or a source is escaped before any markup is added,
so text from a question or a corpus file can never become live HTML.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Sequence

from ketabot.types import Citation, Kind, Reply


def alert_html(reply: Reply, dial: Sequence[str] = ()) -> str:
    """The urgent first paragraph of an emergency reply, to pin above the chat ("" otherwise)."""
    if reply.kind is not Kind.EMERGENCY:
        return ""
    urgent = dialable(body_html(reply.body.split("\n\n")[0]), dial)
    return f'<div class="kb-alert" role="alert">{urgent}</div>'


def render(reply: Reply, dial: Sequence[str] = ()) -> str:
    """The reply as HTML for the chat: quotes, expandable sources, then the disclaimer.

    The numbers in ``dial`` (emergency, crisis line, clinic) become ``tel:`` links in what
    ketabot itself says; never in quotes, where a number is the source's.
    """
    role = ' role="alert"' if reply.kind is Kind.EMERGENCY else ""
    # Each reply's sources get their own ids, so its [n] markers open its own sources.
    key = uuid.uuid4().hex[:8]
    body = body_html(reply.body, key if reply.citations else None)
    if reply.kind is not Kind.ANSWER:
        body = dialable(body, dial)
    parts = [f'<div class="kb-reply kb-{reply.kind.value}"{role}>', body]
    if reply.citations:
        parts.append('<div class="kb-sources"><p class="kb-sources-title">Sources</p>')
        parts.extend(_source(c, key) for c in reply.citations)
        parts.append("</div>")
    parts.append(f'<p class="kb-disclaimer">{html.escape(reply.disclaimer.text)}</p></div>')
    return "".join(parts)


def question_html(text: str) -> str:
    """The patient's own words as text: no markup or Markdown of theirs becomes live.

    One HTML block without blank lines, so the chat's Markdown renderer leaves it as it is.
    """
    escaped = html.escape(text, quote=False).replace("\r", "")
    return f'<div class="kb-asked">{escaped.replace(chr(10), "<br>")}</div>'


_ASKED = re.compile(r'^<div class="kb-asked">(.*)</div>$', re.DOTALL)


def question_text(shown: str) -> str:
    """The words :func:`question_html` showed, as the patient typed them (else ``shown``)."""
    match = _ASKED.match(shown)
    if match is None:
        return shown
    return html.unescape(match.group(1).replace("<br>", "\n"))


def dialable(markup: str, numbers: Sequence[str]) -> str:
    """``markup`` with each of ``numbers`` (as escaped text) turned into a ``tel:`` link."""
    shown = sorted({html.escape(n, quote=False) for n in numbers if n}, key=len, reverse=True)
    if not shown:
        return markup
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, shown)) + r")(?![\w-])")

    def link(match: re.Match[str]) -> str:
        digits = re.sub(r"[^\d+]", "", html.unescape(match.group()))
        return f'<a class="kb-tel" href="tel:{digits}">{match.group()}</a>'

    return pattern.sub(link, markup)


def body_html(text: str, key: str | None = None) -> str:
    """A reply body as HTML: paragraphs, "- " lists, **bold** and [n] markers.

    With ``key`` (the reply's sources' id), each [n] links to its source.
    """
    blocks = []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        items = [line[2:] for line in lines if line.startswith("- ")]
        if items and len(items) == len(lines) - 1:
            lead = _inline(lines[0], key)
            listed = "".join(f"<li>{_inline(i, key)}</li>" for i in items)
            blocks.append(f"<p>{lead}</p><ul>{listed}</ul>")
        else:
            blocks.append(f"<p>{_inline(block, key)}</p>")
    return "".join(blocks)


def _inline(text: str, key: str | None = None) -> str:
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    if key is None:
        return re.sub(r"\[(\d+)\]", r'<span class="kb-cite">[\1]</span>', escaped)
    return re.sub(
        r"\[(\d+)\]",
        rf'<a class="kb-cite" href="#kb-src-{key}-\1" title="Source \1">[\1]</a>',
        escaped,
    )


def _source(citation: Citation, key: str) -> str:
    where = html.escape(citation.title)
    if citation.section:
        where += f" — {html.escape(citation.section)}"
    if citation.publisher:
        where += f' <span class="kb-publisher">({html.escape(citation.publisher)})</span>'
    passage = html.escape(citation.passage).replace("\n", "<br>")
    quote = html.escape(citation.quote).replace("\n", "<br>")
    passage = passage.replace(quote, f"<mark>{quote}</mark>", 1)
    return (
        f'<details class="kb-source" id="kb-src-{key}-{citation.n}">'
        f"<summary>[{citation.n}] {where}</summary>"
        f"<blockquote>{passage}</blockquote></details>"
    )
