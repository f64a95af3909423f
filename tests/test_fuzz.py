"""Fuzzing both public ways in: 5,000 inputs through the Python API, 500 over HTTP.

Whatever comes in, the reply carries the disclaimer and encodes as UTF-8 JSON; a sensible
question is never answered with ``error``; the only exception the Python API raises is the
documented ``ValueError`` for a history that is not a list; the server answers every call
with a reply or a clear 4xx and keeps serving.
"""

import concurrent.futures
import http.client
import json
from collections import Counter
from urllib.parse import urlparse

import pytest

from fuzzing import fuzz_inputs
from ketabot.errors import HistoryError
from ketabot.types import Kind

pytestmark = pytest.mark.slow


def _is_list(history):
    return history is None or isinstance(history, list)


def test_5000_fuzzed_inputs_through_the_python_api(bot):
    problems = []
    kinds = Counter()
    for question, history, sensible in fuzz_inputs(5000, seed=11):
        try:
            reply = bot.ask(question, history)
        except HistoryError:
            if _is_list(history):
                problems.append(("rejected a list history", repr(history)[:60]))
            continue
        except Exception as exc:  # the point of the test: any other exception is a defect
            problems.append((type(exc).__name__, repr(question)[:60]))
            continue
        kinds[reply.kind] += 1
        if reply.disclaimer.text not in reply.text:
            problems.append(("no disclaimer", repr(question)[:60]))
        json.dumps(reply.to_json(), ensure_ascii=False).encode("utf-8")
        if sensible and reply.kind is Kind.ERROR:
            problems.append(("sensible question answered with error", repr(question)[:60]))
    assert not problems, problems[:10]
    assert kinds[Kind.ANSWER] and kinds[Kind.ERROR] and kinds[Kind.EMERGENCY]


def _post(url, payload):
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    connection.request(
        "POST", "/gradio_api/run/ask", body=body, headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    return response.status, response.read()


def _http_body(question, history):
    """The raw call body: bytes as they are (not JSON at all), anything else as JSON."""
    if isinstance(question, bytes):
        return question
    return json.dumps({"data": [question, history]}).encode()


def test_500_fuzzed_calls_over_http(server):
    inputs = fuzz_inputs(500, seed=12)

    def one(item):
        question, history, sensible = item
        return _post(server.url, _http_body(question, history)), sensible

    with concurrent.futures.ThreadPoolExecutor(4) as pool:  # within the bound of 8
        results = list(pool.map(one, inputs))
    problems = []
    for (status, body), sensible in results:
        if status == 200:
            reply = json.loads(body)["data"][0]
            if not reply["disclaimer"] or reply["disclaimer"] not in reply["text"]:
                problems.append("reply without the disclaimer")
            if sensible and reply["kind"] == "error":
                problems.append(f"sensible question answered with error: {reply['reason']}")
        elif 400 <= status < 500:
            if not json.loads(body)["error"]["code"]:
                problems.append(f"{status} without an error code")
        else:
            problems.append(f"status {status}")
    assert not problems, problems[:10]
    assert sum(1 for (status, _), _ in results if status == 200) > 250
    assert _post(server.url, {"data": ["What is neuropathic pain?", []]})[0] == 200
    assert "Traceback" not in server.output()
