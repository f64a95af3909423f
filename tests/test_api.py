"""The JSON API at /api/v1: the contract, clear 4xx errors, fair use, its own schema.

In-process tests drive the API application with the real bot (Starlette's test client,
no socket); the rest go through the real server, the guard and CORS included.
"""

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import get_type_hints

import pytest

from conftest import ROOT, make_settings, subprocess_env
from ketabot.metrics import Metrics
from ketabot.types import MANDATORY_DISCLAIMERS, CitationJSON, ReplyJSON
from ketabot.web.api import PREFIX, create_api
from ketabot.web.lanes import Busy, Lanes

slow = pytest.mark.slow
EMERGENCY = "I took too much ketamine and I can't breathe"
ORDINARY = "How does ketamine work for nerve pain?"


@pytest.fixture(scope="module")
def api_client(bot):
    from starlette.testclient import TestClient

    metrics = Metrics()
    api = create_api(bot, bot.settings, metrics, Lanes(bot.settings))
    with TestClient(api, base_url="http://127.0.0.1") as client:
        client.metrics = metrics
        yield client


def _post(client, body, **kwargs):
    if isinstance(body, (dict, list)):
        return client.post("/ask", json=body, **kwargs)
    return client.post("/ask", content=body, headers={"content-type": "application/json"})


# ---------------------------------------------------------------- in-process


@slow
@pytest.mark.parametrize(
    ("question", "history"),
    [
        (ORDINARY, []),
        ("Is 50 mg of ketamine ok for me?", []),
        (EMERGENCY, []),
        ("Does insurance cover ketamine infusions?", []),
        ("and is it addictive?", [ORDINARY]),
        ("", []),
    ],
)
def test_the_reply_is_the_json_contract_the_bot_gives(api_client, bot, question, history):
    response = _post(api_client, {"question": question, "history": history})
    assert response.status_code == 200
    assert response.json() == bot.ask(question, history).to_json()
    assert response.json()["disclaimer"].startswith(MANDATORY_DISCLAIMERS["en"])


@slow
def test_the_callers_language_settles_a_close_call_only(api_client):
    short = _post(api_client, {"question": "ketamine", "language": "es-MX"}).json()
    assert short["disclaimer"].startswith(MANDATORY_DISCLAIMERS["es"])
    plain = _post(api_client, {"question": "ketamine"}).json()
    assert plain["disclaimer"].startswith(MANDATORY_DISCLAIMERS["en"])
    clear = _post(api_client, {"question": ORDINARY, "language": "es"}).json()
    assert clear["kind"] == "answer" and clear["disclaimer"].startswith(MANDATORY_DISCLAIMERS["en"])


@slow
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "invalid_json"),
        ([ORDINARY], 422, "invalid_request"),
        ({}, 422, "question_missing"),
        ({"question": 42}, 422, "question_not_text"),
        ({"question": ORDINARY, "history": "earlier"}, 422, "history_not_a_list"),
        ({"question": ORDINARY, "history": [1, 2]}, 422, "history_not_a_list"),
        ({"question": ORDINARY, "history": ["q"] * 101}, 422, "history_not_a_list"),
        ({"question": ORDINARY, "language": "fr"}, 422, "unsupported_language"),
        ({"question": ORDINARY, "session": "abc"}, 422, "unknown_field"),
    ],
)
def test_a_bad_call_gets_a_clear_4xx_that_echoes_nothing(api_client, body, status, code):
    response = _post(api_client, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert "earlier" not in response.text and "session" not in response.text.lower()


@slow
def test_a_body_that_is_not_json_is_named_as_such(api_client):
    response = api_client.post(
        "/ask", content=b"question=hi", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert api_client.get("/ask").json()["error"]["code"] == "method_not_allowed"
    assert api_client.get("/nowhere").status_code == 404


@slow
def test_over_the_limit_an_emergency_still_gets_its_reply(bot, tmp_path):
    from starlette.testclient import TestClient

    settings = make_settings(tmp_path, api={"requests_per_minute": 1, "burst": 1})
    metrics = Metrics()
    api = create_api(bot, settings, metrics, Lanes(settings))
    with TestClient(api, base_url="http://127.0.0.1") as client:
        assert _post(client, {"question": ORDINARY}).status_code == 200
        refused = _post(client, {"question": ORDINARY})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "rate_limited"
        urgent = _post(client, {"question": EMERGENCY})
        assert urgent.status_code == 200 and urgent.json()["kind"] == "emergency"
    assert metrics.rate_limited._value.get() == 1


@slow
def test_when_every_worker_is_busy_an_emergency_still_gets_its_reply(bot, monkeypatch):
    from starlette.testclient import TestClient

    lanes = Lanes(bot.settings)

    async def full(step):
        raise Busy

    monkeypatch.setattr(lanes, "answer", full)
    api = create_api(bot, bot.settings, Metrics(), lanes)
    with TestClient(api, base_url="http://127.0.0.1") as client:
        busy = _post(client, {"question": ORDINARY})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "busy"
        urgent = _post(client, {"question": EMERGENCY})
        assert urgent.status_code == 200 and urgent.json()["kind"] == "emergency"


@slow
def test_requests_are_counted_by_route_and_status(api_client):
    before = api_client.metrics.requests.labels("api", "200")._value.get()
    _post(api_client, {"question": ORDINARY})
    assert api_client.metrics.requests.labels("api", "200")._value.get() == before + 1


@slow
def test_the_schema_is_the_apis_own_and_documents_the_contract(api_client):
    schema = api_client.get("/openapi.json").json()
    assert list(schema["paths"]) == ["/ask"]
    operation = schema["paths"]["/ask"]["post"]
    assert {"200", "400", "413", "415", "422", "429", "503"} <= operation["responses"].keys()
    components = schema["components"]["schemas"]
    reply, citation = components["ReplyModel"], components["CitationModel"]
    assert set(reply["properties"]) == set(get_type_hints(ReplyJSON))
    assert set(citation["properties"]) == set(get_type_hints(CitationJSON))
    for model in (reply, citation, components["AskRequest"]):
        assert all(field.get("description") for field in model["properties"].values())
    assert reply["properties"]["kind"]["enum"] == [
        "answer",
        "refusal",
        "emergency",
        "out_of_scope",
        "not_found",
        "error",
    ]
    assert components["AskRequest"]["examples"]


# ---------------------------------------------------------------- the real server


def _http(url, body=None, headers=None, method=None):
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _cli_json(server, questions):
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ketabot"), "ask", "--json", "-"],
        input="\n".join(questions) + "\n",
        capture_output=True,
        text=True,
        timeout=180,
        cwd=server.log.parent,
        env=subprocess_env(
            KETABOT_HOME=str(server.log.parent / "home"),
            KETABOT_CORPUS=str(ROOT / "corpus"),
            KETABOT_CONFIG=str(server.log.parent / "ketabot.toml"),
        ),
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@slow
def test_the_json_api_gradio_and_the_cli_give_the_same_replies(server, client):
    questions = [
        ORDINARY,
        "How much ketamine should I take for my CRPS?",
        EMERGENCY,
        "Does insurance cover ketamine infusions?",
        "What is the capital of France?",
        "¿Cuánta ketamina debo tomar?",
    ]
    over_http = [
        json.loads(_http(f"{server.url}{PREFIX}/ask", {"question": q})[2]) for q in questions
    ]
    over_gradio = [client.predict(question=q, history=[], api_name="/ask") for q in questions]
    over_cli = _cli_json(server, questions)
    assert over_http == over_gradio == over_cli
    assert {r["kind"] for r in over_http} >= {"answer", "refusal", "emergency", "out_of_scope"}


@slow
def test_only_the_clinics_sites_may_call_from_a_browser(server):
    ask = f"{server.url}{PREFIX}/ask"
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    status, headers, _ = _http(
        ask, method="OPTIONS", headers={"Origin": "http://127.0.0.1:9", **preflight}
    )
    assert status == 200 and headers["access-control-allow-origin"] == "http://127.0.0.1:9"
    status, headers, _ = _http(
        ask, method="OPTIONS", headers={"Origin": "https://elsewhere.example", **preflight}
    )
    assert status == 400 and "access-control-allow-origin" not in {k.lower() for k in headers}
    _, headers, _ = _http(
        ask, {"question": ORDINARY}, headers={"Origin": "https://elsewhere.example"}
    )
    assert "access-control-allow-origin" not in {k.lower() for k in headers}


@slow
def test_the_server_serves_the_apis_schema_and_refuses_a_huge_body(server):
    status, _, body = _http(f"{server.url}{PREFIX}/openapi.json")
    assert status == 200 and list(json.loads(body)["paths"]) == ["/ask"]
    assert _http(f"{server.url}/openapi.json")[0] == 404  # Gradio's own listing stays hidden
    status, _, body = _http(
        f"{server.url}{PREFIX}/ask", b'{"question": "' + b"x" * 2_000_000 + b'"}'
    )
    assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large"
    status, _, body = _http(f"{server.url}{PREFIX}/ask", {"question": ORDINARY})
    assert status == 200 and json.loads(body)["kind"] == "answer"
