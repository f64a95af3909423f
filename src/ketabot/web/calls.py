"""What a call to one of Gradio's event routes must look like before Gradio sees it.

Gradio answers a malformed call by printing a traceback that holds the call's inputs (a
patient's question) and replying ``{"error": null}``, with no reply and no disclaimer.
So the guard reads each call's body first and lets through only a well-formed one: a JSON
object whose ``data`` has one value per input of a function this app defines. Anything
else is refused with a 4xx naming what was wrong, never echoing the call.

The documented ``ask`` API takes ``(question, history=None)``: a call that leaves
``history`` out (``view_api`` says it is optional) is completed with ``null`` rather than
refused, and ``question`` must be text.
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from typing import Any

# POST routes that run an event: answered at once outside the queue (``run``, ``api``),
# or put in the queue (``call``, ``queue/join``).
_DIRECT = re.compile(r"/gradio_api/(?:run|api)/(?P<name>[^/]+)/?$")
_QUEUED = re.compile(r"/gradio_api/(?:call/(?:v2/)?(?P<name>[^/]+)|queue/join)/?$")
ASK = "ask"


def runs_event(method: str, path: str) -> bool:
    """Whether a request to ``path`` asks Gradio to run one of the app's functions."""
    return method == "POST" and bool(_DIRECT.search(path) or _QUEUED.search(path))


class BadCall(Exception):
    """A call refused before Gradio sees it: ``status`` and a stable ``code``."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Endpoint:
    """One function of the app as a caller may invoke it."""

    index: int
    name: str | None
    inputs: int
    required: int
    public: bool


@dataclass(frozen=True)
class Call:
    """A checked call: its endpoint, whether it runs outside the queue, and its body."""

    endpoint: Endpoint
    direct: bool
    body: bytes
    data: list[Any]


class Endpoints:
    """The app's functions by index and by API name, read once from the Blocks."""

    def __init__(self, endpoints: list[Endpoint]) -> None:
        self.by_index = {e.index: e for e in endpoints}
        self.by_name = {e.name: e for e in endpoints if e.public and e.name}

    @classmethod
    def of(cls, blocks: Any) -> Endpoints:
        """The endpoints of a Gradio ``Blocks``."""
        return cls([_endpoint(index, fn) for index, fn in blocks.fns.items()])

    def check(self, path: str, raw: bytes) -> Call:
        """The checked call for a POST of ``raw`` to ``path``, an event route.

        Raises :class:`BadCall` when the call must not reach Gradio.
        """
        direct = _DIRECT.search(path)
        match = direct or _QUEUED.search(path)
        if match is None:
            raise BadCall(404, "unknown_endpoint")
        body = _object(raw)
        endpoint = self._endpoint(body, match.group("name"))
        data = _data(body, endpoint)
        body["data"] = data
        return Call(endpoint, direct is not None, json.dumps(body).encode(), data)

    def _endpoint(self, body: dict[str, Any], name: str | None) -> Endpoint:
        index = body.get("fn_index")
        if index is not None:
            if not isinstance(index, int) or isinstance(index, bool) or index not in self.by_index:
                raise BadCall(404, "unknown_endpoint")
            return self.by_index[index]
        if name is None or name not in self.by_name:
            raise BadCall(404, "unknown_endpoint")
        return self.by_name[name]


def _endpoint(index: int, fn: Any) -> Endpoint:
    inputs = len(fn.inputs)
    public = getattr(fn, "api_visibility", "public") != "private"
    return Endpoint(index, fn.api_name, inputs, _required(fn.fn, inputs), public)


def _required(function: Any, inputs: int) -> int:
    """How many leading inputs have no default (all of them for page events)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())[:inputs]
    except (TypeError, ValueError):
        return inputs
    if len(parameters) < inputs:
        return inputs
    return sum(1 for p in parameters if p.default is inspect.Parameter.empty)


def _object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise BadCall(400, "invalid_json") from None
    if not isinstance(body, dict):
        raise BadCall(422, "invalid_request")
    return body


def _data(body: dict[str, Any], endpoint: Endpoint) -> list[Any]:
    data = body.get("data")
    if not isinstance(data, list) or not endpoint.required <= len(data) <= endpoint.inputs:
        raise BadCall(422, "wrong_number_of_inputs")
    data = [*data, *[None] * (endpoint.inputs - len(data))]
    if endpoint.public and endpoint.name == ASK:
        _check_ask(data)
    return data


def _check_ask(data: list[Any]) -> None:
    question, history = data[0], data[1]
    if not isinstance(question, str):
        raise BadCall(422, "question_not_text")
    if history is not None and not isinstance(history, list):
        raise BadCall(422, "history_not_a_list")
