"""Replies as HTML for the chat page: pure functions, testable without Gradio.

Everything from a reply or a source is escaped before any markup is added,
so text from a question or a corpus file can never become live HTML.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Mapping, Sequence

from ketabot.replies import page_words
from ketabot.types import Citation, Kind, Reply


def alert_html(reply: Reply, dial: Sequence[str] = ()) -> str:
    """The urgent first paragraph of an emergency reply, to pin above the chat ("" otherwise)."""
    if reply.kind is not Kind.EMERGENCY:
        return ""
    urgent = dialable(body_html(reply.body.split("\n\n")[0]), dial)
    return f'<div class="kb-alert" role="alert">{urgent}</div>'


def render(reply: Reply, dial: Sequence[str] = (), words: Mapping[str, str] | None = None) -> str:
    """The reply as HTML for the chat: quotes, expandable sources, then the disclaimer.

    The numbers in ``dial`` (emergency, crisis line, clinic) become ``tel:`` links in what
    ketabot itself says; never in quotes, where a number is the source's. ``words`` are the
    page's own words (:func:`~ketabot.replies.page_words`), English by default.
    """
    words = words or page_words("en")
    role = ' role="alert"' if reply.kind is Kind.EMERGENCY else ""
    # Each reply's sources get their own ids, so its [n] markers open its own sources.
    key = uuid.uuid4().hex[:8]
    body = body_html(reply.body, key if reply.citations else None, words)
    if reply.kind is not Kind.ANSWER:
        body = dialable(body, dial)
    parts = [f'<div class="kb-reply kb-{reply.kind.value}"{role}>', body]
    if reply.citations:
        title = html.escape(words["sources"])
        parts.append(f'<div class="kb-sources"><p class="kb-sources-title">{title}</p>')
        parts.extend(_source(c, key, words) for c in reply.citations)
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


_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension)\s*(?=\d)", re.IGNORECASE)


def dialable(markup: str, numbers: Sequence[str]) -> str:
    """``markup`` with each of ``numbers`` (as escaped text) turned into a ``tel:`` link."""
    shown = sorted({html.escape(n, quote=False) for n in numbers if n}, key=len, reverse=True)
    if not shown:
        return markup
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, shown)) + r")(?![\w-])")

    def link(match: re.Match[str]) -> str:
        number, *extension = _EXTENSION.split(html.unescape(match.group()), maxsplit=1)
        digits = re.sub(r"[^\d+]", "", number)
        if extension:  # RFC 3966: the phone dials the extension itself
            digits += ";ext=" + re.sub(r"\D", "", extension[0])
        return f'<a class="kb-tel" href="tel:{digits}">{match.group()}</a>'

    return pattern.sub(link, markup)


def tel_link(number: str) -> str:
    """``number`` as escaped text, tappable."""
    return dialable(html.escape(number, quote=False), [number])


def body_html(text: str, key: str | None = None, words: Mapping[str, str] | None = None) -> str:
    """A reply body as HTML: paragraphs, "- " lists, **bold** and [n] markers.

    With ``key`` (the reply's sources' id), each [n] links to its source.
    """
    label = (words or page_words("en"))["source_n"]
    blocks = []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        items = [line[2:] for line in lines if line.startswith("- ")]
        if items and len(items) == len(lines) - 1:
            lead = _inline(lines[0], key, label)
            listed = "".join(f"<li>{_inline(i, key, label)}</li>" for i in items)
            blocks.append(f"<p>{lead}</p><ul>{listed}</ul>")
        else:
            blocks.append(f"<p>{_inline(block, key, label)}</p>")
    return "".join(blocks)


def _inline(text: str, key: str | None, label: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    if key is None:
        return re.sub(r"\[(\d+)\]", r'<span class="kb-cite">[\1]</span>', escaped)

    def cite(match: re.Match[str]) -> str:
        n = match.group(1)
        title = html.escape(label.format(n=n), quote=True)
        return f'<a class="kb-cite" href="#kb-src-{key}-{n}" title="{title}">[{n}]</a>'

    return re.sub(r"\[(\d+)\]", cite, escaped)


def _source(citation: Citation, key: str, words: Mapping[str, str]) -> str:
    """One source: a short heading that opens it, what it is, and the passage quoted."""
    where = f'<span class="kb-source-title">{html.escape(citation.title)}</span>'
    if citation.section:
        where += f'<span class="kb-source-section">{html.escape(citation.section)}</span>'
    about = [html.escape(x) for x in (citation.publisher, citation.date) if x]
    if citation.page is not None:
        about.insert(0, html.escape(words["page"].format(n=citation.page)))
    if citation.url:
        address = html.escape(citation.url, quote=True)
        about.append(
            f'<a class="kb-source-link" href="{address}" target="_blank" '
            f'rel="noopener noreferrer">{html.escape(words["original"])}</a>'
        )
    meta = f'<p class="kb-source-meta">{" · ".join(about)}</p>' if about else ""
    return (
        f'<details class="kb-source" id="kb-src-{key}-{citation.n}">'
        f"<summary>[{citation.n}] {where}</summary>"
        f"{meta}<blockquote>{passage_html(citation.passage, citation.quote)}</blockquote></details>"
    )


def passage_html(passage: str, quote: str) -> str:
    """A source passage with the quote marked and its "- " lines shown as a list."""
    marked = html.escape(passage)
    shown = html.escape(quote)
    marked = marked.replace(shown, f"<mark>{shown}</mark>", 1)
    if "\n" in quote:  # a quote across lines keeps the passage's plain line breaks
        return marked.replace("\n", "<br>")
    out: list[str] = []
    listing = False
    for line in marked.split("\n"):
        item = re.match(r"^(<mark>)?- (.*)$", line)
        if item and not listing:
            out.append("<ul>")
        elif not item and listing:
            out.append("</ul>")
        listing = bool(item)
        out.append(f"<li>{item.group(1) or ''}{item.group(2)}</li>" if item else f"{line}<br>")
    if listing:
        out.append("</ul>")
    return "".join(out).removesuffix("<br>")
