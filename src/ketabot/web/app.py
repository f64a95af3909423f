"""The patient chat page and its ``/ask`` API for one bot: the only module that builds Gradio UI.

``create_app(bot)`` builds the page without serving it, so it can be tested
in-process; :mod:`ketabot.web.serve` serves it. This is an edge: any failure
becomes a friendly reply with the disclaimer, and the server keeps serving.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import gradio as gr

from ketabot.bot import Bot, safe_answer, safe_ask
from ketabot.config import Settings
from ketabot.feedback import FeedbackStore, ReplyFacts, database_url
from ketabot.replies import page_words
from ketabot.types import Query, Reply, ReplyJSON
from ketabot.web.render import (
    alert_html,
    question_html,
    question_text,
    render,
    tel_link,
)

log = logging.getLogger("ketabot")


@dataclass(frozen=True)
class Page:
    """What every reply on one clinic's page is shown with."""

    dial: tuple[str, ...]
    """The numbers a patient may need to call, tappable wherever ketabot itself names them."""
    words: Mapping[str, str]
    """The page's own words in its language (:func:`~ketabot.replies.page_words`)."""


# After an emergency reply, bring the pinned alert into view: on a phone the chat has
# scrolled to the end of the reply and the page to the text box.
# After any other reply, show it from its first line (a refusal's first line says why), with
# the question above it, rather than from its end as the chat's own scrolling would.
SHOW_ALERT = """() => {
  const count = document.getElementById('kb-count');
  if (count) { count.textContent = ''; count.classList.remove('kb-count-over'); }
  const alert = document.querySelector('#kb-alert .kb-alert');
  if (alert) { alert.scrollIntoView({block: 'start', behavior: 'smooth'}); return; }
  const asked = document.querySelectorAll('#kb-chat .kb-asked');
  const last = asked[asked.length - 1];
  if (last) { last.scrollIntoView({block: 'start', behavior: 'smooth'}); }
}"""


# ---------------------------------------------------------------- the page


def create_app(bot: Bot, settings: Settings | None = None) -> gr.Blocks:
    """The chat page and the ``/ask`` API for one bot; not yet serving."""
    settings = settings or bot.settings
    clinic = settings.clinic
    dial = (clinic.emergency_number, clinic.crisis_line, clinic.poison_control, clinic.phone)
    page = Page(dial, page_words(clinic.language))
    words = page.words
    store = FeedbackStore(
        database_url(settings),
        enabled=clinic.store_feedback,
        store_question=clinic.store_question,
        legacy_file=settings.feedback_file,
    )
    with gr.Blocks(title=clinic.page_title, analytics_enabled=False, fill_height=True) as app:
        _header(settings, words)
        alert = gr.HTML("", visible=False, elem_id="kb-alert")
        chatbot = gr.Chatbot(
            label="Conversation",
            show_label=False,
            elem_id="kb-chat",
            height="62vh",
            min_height=300,
            layout="panel",
            autoscroll=False,  # the page shows each reply from its start (SHOW_ALERT)
            feedback_options=("Like", "Dislike") if clinic.store_feedback else None,
            buttons=[],
            placeholder=words["chat_placeholder"],
        )
        facts = gr.State([])
        # Right under the chat, next to the reply just rated (ketabot.js brings it into view).
        comment_row, rating_id, status = _feedback_controls(store, chatbot, facts, words)
        with gr.Row(elem_id="kb-ask-row", equal_height=True):
            question = gr.Textbox(
                label=words["question_label"],
                placeholder=words["question_placeholder"],
                lines=1,
                max_lines=4,
                scale=5,
                elem_id="kb-question",
            )
            send = gr.Button(
                words["ask"], variant="primary", scale=1, min_width=80, elem_id="kb-send"
            )
        # No max_length on the box: the browser would cut a long question silently. The
        # counter warns as the limit nears, and the server answers a longer one kindly.
        gr.HTML(
            f'<p id="kb-count" class="kb-count" aria-live="polite" '
            f'data-max="{settings.input.max_question_chars}"></p>',
            elem_id="kb-count-row",
        )
        examples = _examples(clinic.example_questions)
        clear = gr.Button(words["clear"], variant="secondary", size="sm", elem_id="kb-clear")

        # Between the two steps: True once the emergency step has replied, else the Query it
        # built (answered in the queue without embedding it again), or None if it failed.
        pending = gr.State(None)

        def urgent(message: str, history: list[dict[str, Any]], seen: list[Any]) -> tuple[Any, ...]:
            """Outside the queue: an emergency is answered at once, however busy the server."""
            query, reply = _urgent(bot, message, history)
            if reply is None:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), query
            return (*_shown(message, history, seen, reply, page), True)

        def respond(
            message: str, history: list[dict[str, Any]], seen: list[Any], built: Query | bool | None
        ) -> tuple[Any, ...]:
            if built is True:  # the emergency step has replied
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            if isinstance(built, Query):
                return _shown(message, history, seen, safe_answer(bot, built), page)
            reply = safe_ask(bot, message, _typed(history))
            return _shown(message, history, seen, reply, page)

        shown = [question, chatbot, facts, alert]
        first: dict[str, Any] = {
            "fn": urgent,
            "inputs": [question, chatbot, facts],
            "outputs": [*shown, pending],
            "api_visibility": "private",
            "queue": False,
        }
        then: dict[str, Any] = {
            "fn": respond,
            "inputs": [question, chatbot, facts, pending],
            "outputs": shown,
            "api_visibility": "private",
            "concurrency_limit": settings.web.concurrency,
        }
        gr.on(triggers=[question.submit, send.click], **first).then(**then).then(
            None, js=SHOW_ALERT
        )
        for button, text in examples:
            button.click(lambda t=text: t, None, question, api_visibility="private").then(
                **first
            ).then(**then).then(None, js=SHOW_ALERT)
        # A question offered under a reply ("You could ask: ...") is asked when tapped.
        chatbot.option_select(_picked, None, question, api_visibility="private").then(**first).then(
            **then
        ).then(None, js=SHOW_ALERT)
        reset = [chatbot, facts, question, comment_row, rating_id, status, alert]
        clear.click(_cleared, None, reset, api_visibility="private")
        # The chat's own trash icon must forget the rated replies too, or feedback would be
        # attributed to the wrong reply.
        chatbot.clear(_cleared, None, reset, api_visibility="private")

        def ask(question: str, history: list[str] | None = None) -> ReplyJSON:
            """Ask ketabot; returns the same JSON object as `ketabot ask --json`."""
            return safe_ask(bot, question, history or []).to_json()

        # Gradio reads the return annotation unevaluated, and this module's are strings
        # (postponed evaluation): given the type itself, view_api shows the reply's schema.
        ask.__annotations__["return"] = ReplyJSON
        gr.api(ask, api_name="ask", concurrency_limit=settings.web.concurrency)
    return app


def urgent_json(bot: Bot, question: str, history: list[Any]) -> ReplyJSON | None:
    """The API's emergency reply as JSON when ``question`` is an emergency, else ``None``."""
    _, reply = _urgent(bot, question, history)
    return None if reply is None else reply.to_json()


def _typed(history: Any) -> Any:
    """The chat's messages with each of the patient's as they typed it, not as it is shown.

    A message's content comes back from Gradio 6 as content blocks; the text blocks of a
    user message are read back through :func:`question_text`. Anything else is left as it
    is, for the bot to read or refuse.
    """
    if not isinstance(history, list):
        return history
    return [_typed_message(m) for m in history]


def _typed_message(message: Any) -> Any:
    if not isinstance(message, dict) or message.get("role") != "user":
        return message
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": question_text(content)}
    if isinstance(content, list):
        blocks = [
            {**b, "text": question_text(b["text"])}
            if isinstance(b, dict) and isinstance(b.get("text"), str)
            else b
            for b in content
        ]
        return {**message, "content": blocks}
    return message


def _urgent(bot: Bot, message: Any, history: Any) -> tuple[Query | None, Reply | None]:
    """The question's query and, for an emergency, its reply; ``(None, None)`` on any failure.

    ``history`` is the chat's own messages, as they are: in Gradio 6 a message's content
    comes back as a list of content blocks, which ``user_turns`` reads. At the edge: a failure
    here leaves the question to the queued answer, which has its own.
    """
    try:
        return bot.first_look(message, _typed(history))
    except Exception as exc:  # the edge: the queued step still answers, with the disclaimer
        log.error("emergency check failed: %s", type(exc).__name__)
        return None, None


def _shown(
    message: Any, history: list[dict[str, Any]], seen: list[Any], reply: Reply, page: Page
) -> tuple[str, list[dict[str, Any]], list[Any], Any]:
    """The page after ``reply``: box cleared, both turns shown, the reply's facts, the alert."""
    asked = message if isinstance(message, str) else ""
    history = [
        *history,
        {"role": "user", "content": question_html(asked)},
        {
            "role": "assistant",
            "content": render(reply, page.dial, page.words),
            "options": _options(reply),
        },
    ]
    return "", history, [*seen, None, ReplyFacts.of(reply)], _alert(reply, page.dial)


def _options(reply: Reply) -> list[dict[str, str]]:
    """The questions a reply offers, as buttons under it that ask them."""
    return [{"value": question, "label": question} for question in reply.suggestions]


def _picked(data: gr.SelectData) -> str:
    return str(data.value)


def _cleared() -> tuple[list[Any], list[Any], str, Any, None, str, Any]:
    return [], [], "", gr.update(visible=False), None, "", gr.update(value="", visible=False)


def _alert(reply: Reply, dial: Sequence[str]) -> Any:
    """The urgent first paragraph of an emergency reply, pinned above the chat."""
    urgent = alert_html(reply, dial)
    return gr.update(value=urgent, visible=bool(urgent))


def _header(settings: Settings, words: Mapping[str, str]) -> None:
    clinic = settings.clinic
    name = html.escape(clinic.name)
    lead = _said(words, "notice_lead", who=_said(words, "notice_who", name=name) if name else "")
    emergency = tel_link(clinic.emergency_number)
    gr.HTML(
        f'<header class="kb-header"><h1>{html.escape(clinic.page_title)}</h1>'
        f'<p class="kb-notice" role="note"><strong>{lead}</strong> '
        f"{_said(words, 'notice_body')} "
        f"<strong>{_said(words, 'notice_emergency', number=emergency)}</strong>"
        f"</p>{_contact(settings, words)}</header>",
        elem_id="kb-header",
    )


def _said(words: Mapping[str, str], key: str, **markup: str) -> str:
    """One of the page's words as HTML, with ``markup`` (already HTML) in its placeholders."""
    return html.escape(words[key], quote=False).format(**markup)


def _contact(settings: Settings, words: Mapping[str, str]) -> str:
    """The clinic's phone and website, where configured: who to ask about one's own care."""
    clinic = settings.clinic
    parts = [_said(words, "contact_call", phone=tel_link(clinic.phone))] if clinic.phone else []
    if clinic.website:
        shown = html.escape(urlsplit(clinic.website).netloc or clinic.website)
        address = html.escape(clinic.website, quote=True)
        parts.append(f'<a href="{address}" target="_blank" rel="noopener noreferrer">{shown}</a>')
    if not parts:
        return ""
    who = html.escape(clinic.name) if clinic.name else _said(words, "your_clinic")
    lead = _said(words, "contact_lead")
    return f'<p class="kb-contact">{lead} {who} · {" · ".join(parts)}</p>'


def _examples(questions: Sequence[str]) -> list[tuple[gr.Button, str]]:
    if not questions:
        return []
    buttons = []
    with gr.Row(elem_id="kb-examples"):
        for text in questions:
            buttons.append((gr.Button(text, size="sm", elem_classes=["kb-example"]), text))
    return buttons


def _feedback_controls(
    store: FeedbackStore, chatbot: gr.Chatbot, facts: gr.State, words: Mapping[str, str]
) -> tuple[gr.Row, gr.State, gr.Markdown]:
    rating_id = gr.State(None)
    with gr.Column(elem_id="kb-feedback"):
        status = gr.Markdown("", elem_id="kb-feedback-status")
        with gr.Row(visible=False, elem_id="kb-comment-row") as comment_row:
            comment = gr.Textbox(
                label=words["comment_label"],
                max_length=500,
                scale=5,
                elem_id="kb-comment",
            )
            send = gr.Button(words["send_comment"], size="sm", scale=1, elem_id="kb-comment-send")
    if not store.enabled:
        return comment_row, rating_id, status

    def on_like(seen: list[Any], data: gr.LikeData) -> tuple[str | None, Any, str]:
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        chosen = seen[index] if isinstance(index, int) and 0 <= index < len(seen) else None
        if not isinstance(chosen, ReplyFacts) or data.liked is None:
            return None, gr.update(visible=False), ""
        saved = store.rate(chosen, helpful=bool(data.liked))
        return saved, gr.update(visible=saved is not None), words["rated"]

    def on_comment(saved: str | None, text: str) -> tuple[str, Any, str]:
        if saved and store.comment(saved, text):
            return "", gr.update(visible=False), words["comment_saved"]
        return text, gr.update(), ""

    hidden: dict[str, Any] = {"api_visibility": "private"}
    chatbot.like(on_like, [facts], [rating_id, comment_row, status], **hidden)
    send.click(on_comment, [rating_id, comment], [comment, comment_row, status], **hidden)
    return comment_row, rating_id, status
