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
