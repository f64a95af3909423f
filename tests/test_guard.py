"""The server's outer wall (``web/guard.py``): unit rules, then probes of the real server."""

import http.client
import json
import os
import socket
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import make_settings
from ketabot.web.calls import BadCall, Endpoints, runs_event
from ketabot.web.guard import Guard, allowed_hosts, security_headers


def scope(path="/", method="GET", host="127.0.0.1:7860", extra=()):
    headers = [(b"host", host.encode()), *extra]
    return {"type": "http", "method": method, "path": path, "headers": headers}


@pytest.fixture
def guard(tmp_path):
    settings = make_settings(tmp_path)
    return Guard(app=None, settings=settings)


@pytest.mark.parametrize(
    ("request_scope", "code"),
    [
        (scope("/gradio_api/upload", "POST"), "uploads_disabled"),
        (scope("/upload", "POST"), "uploads_disabled"),
        (scope("/gradio_api/file=http://10.0.0.1/x"), "remote_files_disabled"),
        (scope("/gradio_api/file=https%3A//example.org/x"), "remote_files_disabled"),
        (scope("/gradio_api/file=//example.org/x"), "remote_files_disabled"),
        (scope("/", host="evil.example"), "unknown_host"),
        (scope("/", extra=[(b"x-big", b"a" * 20_000)]), "headers_too_large"),
        (scope("/openapi.json"), "not_found"),
        (scope("/gradio_api/openapi.json"), "not_found"),
    ],
)
def test_what_never_reaches_gradio(guard, request_scope, code):
    assert guard.refusal(request_scope)[1] == code


@pytest.mark.parametrize("host", ["127.0.0.1:7860", "localhost", "[::1]:7860"])
def test_ordinary_requests_pass(guard, host):
    assert guard.refusal(scope("/config", host=host)) is None
    assert guard.refusal(scope("/gradio_api/file=/tmp/gradio/x.css", host=host)) is None


def test_embedding_sites_and_hosts_come_from_the_clinic_config(tmp_path):
    settings = make_settings(tmp_path)
    web = settings.web.model_copy(
        update={"embed_origins": ["https://www.clinic.example"], "allowed_hosts": ["chat.x.org"]}
    )
    settings = settings.model_copy(update={"web": web})
    policy = dict(security_headers(settings))[b"content-security-policy"].decode()
    assert "frame-ancestors 'self' https://www.clinic.example;" in policy
    assert allowed_hosts(settings) == {"chat.x.org"}


@pytest.fixture(scope="module")
def endpoints():
    import gradio as gr

    with gr.Blocks() as blocks:
        box, chat, state = gr.Textbox(), gr.Chatbot(), gr.State([])
        page_event = {"queue": False, "api_visibility": "private"}
        gr.Button().click(lambda a, b, c: None, [box, chat, state], None, **page_event)

        def ask(question: str, history: list[str] | None = None) -> dict:
            return {}

        gr.api(ask, api_name="ask")
    return Endpoints.of(blocks)


def _body(data, **extra):
    return json.dumps({"data": data, **extra}).encode()


@pytest.mark.parametrize(
    ("path", "raw", "status", "code"),
    [
        ("/gradio_api/run/ask", b"not json", 400, "invalid_json"),
        ("/gradio_api/run/ask", b"[1]", 422, "invalid_request"),
        ("/gradio_api/run/ask", _body("q"), 422, "wrong_number_of_inputs"),
        ("/gradio_api/run/ask", _body([]), 422, "wrong_number_of_inputs"),
        ("/gradio_api/run/ask", _body(["q", [], 3]), 422, "wrong_number_of_inputs"),
        ("/gradio_api/run/ask", _body([5]), 422, "question_not_text"),
        ("/gradio_api/call/ask", _body(["q", "turn"]), 422, "history_not_a_list"),
        ("/gradio_api/run/nope", _body(["q"]), 404, "unknown_endpoint"),
        ("/gradio_api/queue/join", _body(["q"], fn_index=99), 404, "unknown_endpoint"),
        ("/gradio_api/queue/join", _body(["q"], fn_index="0"), 404, "unknown_endpoint"),
        ("/gradio_api/run/predict", _body(["q", []], fn_index=0), 422, "wrong_number_of_inputs"),
    ],
)
def test_a_malformed_call_is_refused_with_its_reason(endpoints, path, raw, status, code):
    with pytest.raises(BadCall) as refused:
        endpoints.check(path, raw)
    assert (refused.value.status, refused.value.code) == (status, code)


def test_ask_without_history_is_completed_as_documented(endpoints):
    call = endpoints.check("/gradio_api/run/ask", _body(["q"]))
    assert call.direct and call.data == ["q", None]
    assert json.loads(call.body)["data"] == ["q", None]
    queued = endpoints.check("/gradio_api/call/ask", _body(["q", ["earlier"]]))
    assert not queued.direct and queued.data == ["q", ["earlier"]]


def test_a_page_event_is_checked_by_its_index(endpoints):
    call = endpoints.check("/gradio_api/run/predict", _body(["q", [], None], fn_index=0))
    assert call.direct and not call.endpoint.public
    assert runs_event("POST", "/gradio_api/queue/join")
    assert not runs_event("GET", "/gradio_api/run/ask")
    assert not runs_event("POST", "/gradio_api/upload")


# ---------------------------------------------------------------- the real server


def _request(server, method, path, headers=None, body=None):
    url = urlparse(server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/", "/config", "/gradio.js", "/gradio_api/info", "/nope"])
def test_every_response_carries_the_security_headers(server, path):
    _, headers, _ = _request(server, "GET", path)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert "frame-ancestors 'self' http://127.0.0.1:*" in lowered["content-security-policy"]
    assert lowered["x-content-type-options"] == "nosniff"
    assert lowered["referrer-policy"] == "no-referrer"


@pytest.mark.slow
def test_an_upload_is_refused_and_nothing_reaches_the_disk(server):
    uploads = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")
    before = set(uploads.rglob("*"))
    canary = b"upload-canary-7f3a"
    body = (
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="x.txt"\r\n\r\n'
        + canary
        + b"\r\n--b--\r\n"
    )
    status, _, reply = _request(
        server,
        "POST",
        "/gradio_api/upload",
        {"Content-Type": "multipart/form-data; boundary=b"},
        body,
    )
    assert status == 403 and json.loads(reply)["error"]["code"] == "uploads_disabled"
    after = set(uploads.rglob("*")) - before
    assert not [p for p in after if p.is_file() and canary in p.read_bytes()]


@pytest.mark.slow
def test_a_remote_file_is_refused_without_any_connection(server):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(2)
    port = listener.getsockname()[1]
    connected = []
    watcher = threading.Thread(target=lambda: connected.append(_accepts(listener)))
    watcher.start()
    status, _, reply = _request(server, "GET", f"/gradio_api/file=http://127.0.0.1:{port}/x")
    assert status == 403 and json.loads(reply)["error"]["code"] == "remote_files_disabled"
    watcher.join(timeout=5)
    listener.close()
    assert connected == [False], "the server must not have connected to the address it was given"


def _accepts(listener):
    try:
        listener.accept()
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_an_unknown_host_and_a_huge_header_are_refused(server):
    assert _request(server, "GET", "/", {"Host": "evil.example"})[0] == 400
    assert _request(server, "GET", "/", {"X-Big": "a" * 100_000})[0] in (431, 400)
    assert _request(server, "GET", "/")[0] == 200, "still serving"


@pytest.mark.slow
def test_a_refused_request_is_never_in_the_log(server):
    _request(server, "POST", "/gradio_api/upload?q=canary-question-9d2c")
    assert "canary-question-9d2c" not in server.output()


@pytest.mark.slow
def test_malformed_calls_get_a_clear_4xx_and_never_reach_the_log(server):
    canary = "malformed-canary-5b1e how does ketamine work"
    calls = [
        ("/gradio_api/run/ask", {"data": [canary, 5]}, 422),
        ("/gradio_api/run/ask", {"data": [canary, [], "extra"]}, 422),
        ("/gradio_api/call/ask", {"data": [canary, "history"]}, 422),
        ("/gradio_api/queue/join", {"data": [canary], "fn_index": 999, "session_hash": "x"}, 404),
    ]
    for path, body, status in calls:
        got, _headers, reply = _request(
            server, "POST", path, {"Content-Type": "application/json"}, json.dumps(body)
        )
        assert got == status and canary not in reply.decode()
        assert json.loads(reply)["error"]["code"]
    assert _request(server, "POST", "/gradio_api/run/ask", body=b"\xff\xfe")[0] == 400
    assert _request(server, "GET", "/gradio_api/queue/data?session_hash=nobody")[0] == 200
    output = server.output()
    assert canary not in output and "Traceback" not in output


@pytest.mark.slow
def test_ask_without_history_is_answered_as_documented(server):
    body = json.dumps({"data": ["How does ketamine work for nerve pain?"]})
    status, _, reply = _request(
        server, "POST", "/gradio_api/run/ask", {"Content-Type": "application/json"}, body
    )
    answer = json.loads(reply)["data"][0]
    assert status == 200 and answer["kind"] == "answer" and answer["disclaimer"]


@pytest.mark.slow
def test_the_direct_api_is_bounded_and_an_emergency_still_gets_through(server):
    import concurrent.futures

    def call(question):
        body = json.dumps({"data": [question, []]})
        status, headers, reply = _request(
            server, "POST", "/gradio_api/run/ask", {"Content-Type": "application/json"}, body
        )
        return status, headers, json.loads(reply)

    questions = [f"What is neuropathic pain? {i}" for i in range(40)]
    questions += ["I swallowed all my ketamine lozenges and my lips are turning blue"] * 5
    with concurrent.futures.ThreadPoolExecutor(len(questions)) as pool:
        results = list(pool.map(call, questions))
    busy = [r for r in results if r[0] == 503]
    assert busy, "40 callers at once must exceed the bound of 8"
    assert all(r[2]["error"]["code"] == "busy" and r[1].get("retry-after") for r in busy)
    assert all(r[0] in (200, 503) for r in results)
    emergencies = results[40:]
    assert all(r[0] == 200 and r[2]["data"][0]["kind"] == "emergency" for r in emergencies)


def _run(guard, path, body, client="198.51.100.7"):
    import asyncio

    sent = []
    request = {**scope(path, "POST"), "client": (client, 50000)}

    async def receive():
        return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(guard(request, receive, send))
    status = sent[0]["status"]
    headers = dict(sent[0]["headers"])
    return status, headers, json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


def test_a_client_over_its_limit_is_told_to_wait_but_an_emergency_gets_through(tmp_path):
    from ketabot.web.calls import Endpoint

    async def gradio(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"data": [{"kind": "answer"}]}'})

    def urgent(question, history):
        return {"kind": "emergency"} if "breathe" in question else None

    settings = make_settings(tmp_path, api={"requests_per_minute": 1, "burst": 1})
    endpoints = Endpoints([Endpoint(0, "ask", 2, 1, True)])
    guard = Guard(gradio, settings=settings, endpoints=endpoints, urgent=urgent)
    ask = "/gradio_api/run/ask"
    assert _run(guard, ask, {"data": ["What is CRPS?"]})[0] == 200
    status, headers, body = _run(guard, ask, {"data": ["What is CRPS?"]})
    assert status == 429 and int(headers[b"retry-after"]) >= 1
    assert body["error"]["code"] == "rate_limited"
    assert _run(guard, ask, {"data": ["I can't breathe"]})[2] == {"data": [{"kind": "emergency"}]}
    assert _run(guard, ask, {"data": ["What is CRPS?"]}, client="203.0.113.5")[0] == 200
