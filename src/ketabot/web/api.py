"""The JSON API at ``/api/v1``: ``POST /ask`` and its own OpenAPI schema.

The reply is the JSON contract (:meth:`ketabot.types.Reply.to_json`), the same object as
``ketabot ask --json`` and Gradio's ``/ask``; the models below describe it for the schema
and check every response against it. This is an edge: bad calls get a 4xx with a stable
``error.code`` and a message that holds nothing from the call; a failure inside becomes a
reply of kind ``error``, with the disclaimer.

Each question's first look (emergency check) runs apart from the answers
(:mod:`ketabot.web.lanes`); a client over its fair-use limit (:mod:`ketabot.web.limits`)
still gets the emergency reply, and a 429 otherwise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ketabot.bot import Bot, safe_answer, safe_ask
from ketabot.config import Settings
from ketabot.language import SUPPORTED, supported
from ketabot.metrics import Metrics
from ketabot.types import Reason, Reply
from ketabot.web.lanes import Busy, Lanes
from ketabot.web.limits import RateLimit

log = logging.getLogger("ketabot")

PREFIX = "/api/v1"
VERSION = "1.0.0"
EXAMPLE_QUESTION = "How does ketamine work for nerve pain?"


# ---------------------------------------------------------------- the schema


class AskRequest(BaseModel):
    """A patient's question, with the conversation so far."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": EXAMPLE_QUESTION},
                {"question": "And is it addictive?", "history": [EXAMPLE_QUESTION]},
                {"question": "¿Qué efectos secundarios tiene?", "language": "es"},
            ]
        },
    )

    question: str = Field(
        description="The question as the patient typed it. An empty, unreadable or too long "
        "question is answered with a reply of kind `error` saying so, not refused.",
        examples=[EXAMPLE_QUESTION],
    )
    history: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="The patient's earlier questions in this conversation, oldest first, "
        "so a follow-up such as 'and is it addictive?' is understood. Only the last few "
        "are read.",
        examples=[[EXAMPLE_QUESTION]],
    )
    language: str | None = Field(
        None,
        max_length=35,
        description="The patient's language when the caller knows it: `en` or `es` (a "
        "regional tag such as `es-MX` is read as `es`). It settles a close call; the "
        "question's own words decide a clear one. Quotes are always from the English "
        "sources; the rest of a reply is in the patient's language.",
        examples=["es"],
    )


class CitationModel(BaseModel):
    """One numbered quote and where it comes from."""

    n: int = Field(description="The number the answer's text gives this quote: [n].")
    doc_id: str = Field(description="The source document's id (its file name, without suffix).")
    title: str = Field(description="The source document's title.")
    section: str | None = Field(description="The heading the quote sits under, if any.")
    chunk_id: str = Field(description="The passage's stable id: it changes when its text does.")
    quote: str = Field(
        description="Exactly the text quoted: a substring of `passage` and of the source."
    )
    publisher: str | None = Field(description="Who published the source, when known.")
    date: str | None = Field(description="The source's date, YYYY-MM-DD, when known.")
    url: str | None = Field(description="The original's http(s) address, when known.")
    page: int | None = Field(
        description="The printed page of a PDF source the quote is on (1 = first); null "
        "for sources without pages."
    )
    passage: str = Field(description="The whole cited passage.")


class ReplyModel(BaseModel):
    """Every reply of every kind: the JSON contract (fields are only ever added)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": "How much ketamine should I take?",
                    "kind": "refusal",
                    "reason": "dosing_advice",
                    "text": "I can't give dosing advice … ketabot shares general education …",
                    "body": "I can't give dosing advice …",
                    "citations": [],
                    "suggestions": [],
                    "disclaimer": "ketabot shares general education quoted from published "
                    "articles. …",
                }
            ]
        }
    )

    question: str = Field(description="The question as it was read.")
    kind: Literal["answer", "refusal", "emergency", "out_of_scope", "not_found", "error"] = Field(
        description="What sort of reply: quotes, a refusal, emergency help first, off-topic, "
        "not covered by the sources, or bad input / a failure."
    )
    reason: str | None = Field(
        description="Why it is not a plain answer: "
        + ", ".join(f"`{r.value}`" for r in Reason)
        + "; null for answers."
    )
    text: str = Field(description="The whole reply for a person, ending with the disclaimer.")
    body: str = Field(
        description="The reply without its sources list and disclaimer, for widgets that "
        "show those themselves."
    )
    citations: list[CitationModel] = Field(description="The quotes, in the order of [n].")
    suggestions: list[str] = Field(
        description="Questions the reply offers: with `not_found`, two or three the sources "
        "do answer, closest to the one asked; with off-topic or unreadable questions, the "
        "clinic's examples; otherwise empty."
    )
    disclaimer: str = Field(description="The mandatory disclaimer and the clinic's addition.")


class ErrorDetail(BaseModel):
    """What was wrong with a call."""

    code: str = Field(
        description="Stable: `invalid_json`, `invalid_request`, `question_missing`, "
        "`question_not_text`, `history_not_a_list`, `unknown_field`, `unsupported_language`, "
        "`request_too_large`, `unsupported_media_type`, `rate_limited`, `busy`, `not_found`, "
        "`method_not_allowed`."
    )
    message: str = Field(description="The same in words, for a developer; never the call's data.")


class ErrorModel(BaseModel):
    """A refused call."""

    error: ErrorDetail


# ---------------------------------------------------------------- the app


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorModel, "description": "The body is not JSON."},
    413: {"model": ErrorModel, "description": "The body is larger than `web.max_body_bytes`."},
    415: {"model": ErrorModel, "description": "The body is not sent as application/json."},
    422: {"model": ErrorModel, "description": "The JSON is not a question this API takes."},
    429: {
        "model": ErrorModel,
        "description": "This client asked more than `api.requests_per_minute`; retry after "
        "`Retry-After` seconds. An emergency is still answered (200).",
    },
    503: {
        "model": ErrorModel,
        "description": "Too many questions wait; retry after `Retry-After` seconds. An "
        "emergency is still answered (200).",
    },
}


def create_api(bot: Bot, settings: Settings, metrics: Metrics, lanes: Lanes) -> FastAPI:
    """The ``/api/v1`` application, to mount on the page's server."""
    api = FastAPI(
        title="ketabot API",
        version=VERSION,
        summary="Answers about ketamine for nerve pain, quoted verbatim from cited sources.",
        description="Every reply carries the safety disclaimer. Personal dosing questions are "
        "refused and emergencies are sent to emergency help first.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    limit = RateLimit(settings.api.requests_per_minute, settings.api.burst)
    asking = Asking(bot, metrics, lanes, limit)

    @api.post(
        "/ask",
        response_model=ReplyModel,
        responses=_ERRORS,
        summary="Ask a question",
        description="The reply to one question, with the conversation so far.",
    )
    async def ask(body: AskRequest, request: Request) -> Any:
        return await asking.reply(body, request)

    api.add_exception_handler(RequestValidationError, _invalid)
    api.add_exception_handler(404, _not_found)
    api.add_exception_handler(405, _not_allowed)
    return api


class Asking:
    """One question through the rate limit, the first look and the answer lane."""

    def __init__(self, bot: Bot, metrics: Metrics, lanes: Lanes, limit: RateLimit) -> None:
        self.bot = bot
        self.metrics = metrics
        self.lanes = lanes
        self.limit = limit

    async def reply(self, body: AskRequest, request: Request) -> Any:
        """The reply as the contract, or the JSON refusal; counted either way."""
        started = time.perf_counter()
        response = await self._reply(body, request, started)
        status = response.status_code if isinstance(response, JSONResponse) else 200
        self.metrics.request("api", status, time.perf_counter() - started)
        return response

    async def _reply(self, body: AskRequest, request: Request, started: float) -> Any:
        language = _language(body.language)
        if isinstance(language, JSONResponse):
            return language
        client = request.client.host if request.client else None
        wait = self.limit.retry_after(client)
        try:
            query, urgent = await self.lanes.first_look(
                lambda: self.bot.first_look(body.question, body.history, language)
            )
        except Busy:
            return _busy()
        except Exception as exc:  # the edge: answered below without the first look
            log.error("emergency check failed: %s", type(exc).__name__)
            query, urgent = None, None
        if urgent is not None:
            return urgent.to_json()
        if wait is not None:
            self.metrics.rate_limited.inc()
            return error(
                429,
                "rate_limited",
                "Too many questions from this client; retry later.",
                retry_after=wait,
            )
        try:
            reply = await self.lanes.answer(lambda: self._answer(query, body, language, started))
        except Busy:
            return _busy()
        return reply.to_json()

    def _answer(self, query: Any, body: AskRequest, language: str | None, started: float) -> Reply:
        if query is not None:
            return safe_answer(self.bot, query, started)
        return safe_ask(self.bot, body.question, body.history, language)


def error(status: int, code: str, message: str, retry_after: int | None = None) -> JSONResponse:
    """A JSON refusal with a stable code; never anything from the call."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _busy() -> JSONResponse:
    return error(503, "busy", "Too many questions are waiting; retry shortly.", retry_after=1)


def _language(tag: str | None) -> str | JSONResponse | None:
    if tag is None:
        return None
    found = supported(tag)
    if found is None:
        known = " or ".join(SUPPORTED)
        return error(422, "unsupported_language", f"language must be {known} (or a regional tag).")
    return found


# What a validation error is called, by the field it is about and the kind of error.
_CODES = {
    ("question", "missing"): ("question_missing", "question is required."),
    ("question", "string_type"): ("question_not_text", "question must be a string."),
    ("history", "list_type"): ("history_not_a_list", "history must be a list of strings."),
    ("history", "string_type"): ("history_not_a_list", "history must be a list of strings."),
    ("history", "too_long"): ("history_not_a_list", "history may hold at most 100 questions."),
    ("language", "string_type"): ("unsupported_language", "language must be a string."),
    ("language", "string_too_long"): ("unsupported_language", "language is not a tag."),
}


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """A validation error as a stable code; pydantic's own message would echo the input."""
    errors: Sequence[Any] = exc.errors() if isinstance(exc, RequestValidationError) else []
    first = errors[0] if errors else {}
    kind = str(first.get("type", ""))
    where = [part for part in first.get("loc", ()) if part != "body"]
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type.lower():
        return error(415, "unsupported_media_type", "Send the body as application/json.")
    if kind == "json_invalid":
        return error(400, "invalid_json", "The body is not valid JSON.")
    if kind == "extra_forbidden":
        return error(422, "unknown_field", "Only question, history and language are accepted.")
    if not where:
        return error(422, "invalid_request", "The body must be a JSON object with a question.")
    code, message = _CODES.get((str(where[0]), kind), ("invalid_request", "Not a valid question."))
    return error(422, code, message)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return error(404, "not_found", f"No such route; the API is POST {PREFIX}/ask.")


async def _not_allowed(request: Request, exc: Exception) -> JSONResponse:
    return error(405, "method_not_allowed", f"Use POST {PREFIX}/ask.")
