"""What /metrics exposes: reply shapes and timings, never a question or an address."""

from prometheus_client.parser import text_string_to_metric_families

from ketabot.metrics import Metrics
from ketabot.types import Disclaimer, Kind, Reason, Reply

CANARY = "Zebulon Quartermaine 555-0199"


def _reply(kind: Kind, reason: Reason | None = None) -> Reply:
    return Reply(question=CANARY, kind=kind, reason=reason, body="…", disclaimer=Disclaimer.build())


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_replies_are_counted_by_kind_and_reason_only():
    metrics = Metrics()
    metrics.replied(_reply(Kind.REFUSAL, Reason.DOSING_ADVICE), 0.02)
    metrics.replied(_reply(Kind.REFUSAL, Reason.DOSING_ADVICE), 0.03)
    metrics.replied(_reply(Kind.ANSWER), 0.04)
    found = samples(metrics)
    assert found[("ketabot_replies_total", (("kind", "refusal"), ("reason", "dosing_advice")))] == 2
    assert found[("ketabot_replies_total", (("kind", "answer"), ("reason", "")))] == 1
    assert found[("ketabot_reply_seconds_count", ())] == 3
    assert CANARY not in metrics.render().decode()


def test_stages_requests_and_waiting_are_exposed():
    metrics = Metrics()
    metrics.stages({"triage": 0.001, "embedding": 0.009})
    metrics.request("api", 200, 0.05)
    metrics.request("api", 429, 0.001)
    metrics.watch_waiting("api", lambda: 7)
    found = samples(metrics)
    assert found[("ketabot_stage_seconds_count", (("stage", "embedding"),))] == 1
    assert found[("ketabot_stage_seconds_count", (("stage", "fusion"),))] == 0  # listed early
    assert found[("ketabot_http_requests_total", (("route", "api"), ("status", "429")))] == 1
    assert found[("ketabot_queue_depth", (("route", "api"),))] == 7


def test_the_generation_being_read_is_the_only_one_shown():
    metrics = Metrics()
    metrics.index("ketabot-g1", 12.5)
    metrics.index("ketabot-g2", None)
    found = samples(metrics)
    generations = [labels for (name, labels) in found if name == "ketabot_index_generation"]
    assert generations == [(("generation", "ketabot-g2"),)]
    assert found[("ketabot_index_ingest_seconds", ())] == 12.5


def test_two_servers_in_one_process_count_apart():
    one, two = Metrics(), Metrics()
    one.replied(_reply(Kind.ANSWER), 0.01)
    assert ("ketabot_replies_total", (("kind", "answer"), ("reason", ""))) not in samples(two)
