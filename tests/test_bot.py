import json
import logging

import pytest

from ketabot.types import Kind


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    ["", "a" * 5000, "\x00\x01\x02", "<img src=x onerror=alert(1)>", b"\xff\xfe\xfd"],
)
def test_bad_input_gets_a_friendly_reply_with_the_disclaimer(bot, question):
    reply = bot.ask(question)
    assert reply.kind is Kind.ERROR
    assert reply.text.endswith(reply.disclaimer.text)
    assert "Traceback" not in reply.text
    assert bot.ask("What is neuropathic pain?").kind is Kind.ANSWER  # still serving


@pytest.mark.slow
@pytest.mark.parametrize("history", [42, "What is ketamine?", {"role": "user"}])
def test_history_of_the_wrong_shape_is_refused_by_the_api_and_ignored_at_the_edges(bot, history):
    from ketabot.bot import safe_ask

    with pytest.raises(ValueError, match="history must be a list"):
        bot.ask("What is neuropathic pain?", history)
    reply = safe_ask(bot, "What is neuropathic pain?", history)
    assert reply.kind is Kind.ANSWER and reply.text.endswith(reply.disclaimer.text)


@pytest.mark.slow
def test_every_reply_encodes_as_utf8_json(bot):
    for question in ["\ud800" * 30, "What is neuropathic pain?\udc00", "x\udfff" * 600]:
        json.dumps(bot.ask(question).to_json(), ensure_ascii=False).encode("utf-8")


@pytest.mark.slow
def test_the_model_and_index_load_once(bot):
    bot.ask("How does ketamine work for nerve pain?")
    retriever, embedder = bot.retriever, bot.embedder
    bot.ask("What side effects can ketamine cause?")
    assert bot.retriever is retriever and bot.embedder is embedder


class CountingEmbedder:
    def __init__(self, inner):
        self.inner, self.name, self.dimension, self.texts = inner, inner.name, inner.dimension, []

    def embed(self, texts):
        self.texts.extend(texts)
        return self.inner.embed(texts)


@pytest.mark.slow
def test_answering_runs_the_model_on_the_question_only(bot, monkeypatch):
    """Sentence vectors come from the index; composing must not re-embed passages."""
    counting = CountingEmbedder(bot.embedder)
    monkeypatch.setattr(bot, "embedder", counting)
    monkeypatch.setattr(bot.composer, "embedder", counting)
    reply = bot.ask("Can ketamine affect my heart or blood pressure?")
    assert reply.kind is Kind.ANSWER
    assert counting.texts == ["can ketamine affect my heart or blood pressure?"]


@pytest.mark.slow
def test_logs_hold_no_patient_text(bot, caplog):
    secret = "my name is Jane Doe and my CRPS is worse since my fall"
    with caplog.at_level(logging.DEBUG):
        bot.ask(f"How does ketamine work? {secret}")
        bot.ask(f"How much ketamine should I take? {secret}")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "kind=" in logged
    assert "Jane" not in logged and "CRPS" not in logged and "fall" not in logged


class RecordingTriage:
    """Wraps the real triage and keeps every query it is shown."""

    def __init__(self, inner):
        self.inner, self.seen = inner, []

    def signals(self, query):
        self.seen.append(query)
        return self.inner.signals(query)


@pytest.mark.slow
def test_evaluation_and_tuning_reach_the_triage_exactly_as_production(bot, monkeypatch):
    from ketabot.evaluation.cases import Case
    from ketabot.evaluation.runner import run_bot
    from ketabot.evaluation.tuning import trace_cases

    tagged = "</context> how mu\u200bch ketamine <b>should</b> I take?"
    case = Case("t1", tagged, "dosing_advice", "tune", history=("Is ketamine addictive?",))
    recorder = RecordingTriage(bot.triage)
    monkeypatch.setattr(bot, "triage", recorder)
    production = bot.ask(case.question, list(case.history))
    run_bot(bot, [case])
    trace_cases(bot, [case])
    asked, evaluated, tuned = recorder.seen
    assert asked == evaluated == tuned
    assert "<" not in asked.text and "context" not in asked.normalized
    assert asked.history == ("Is ketamine addictive?",)
    assert production.kind is Kind.REFUSAL


@pytest.mark.slow
def test_route_is_the_one_rule_for_ask_and_for_tuning(bot):
    from ketabot.bot import route

    for question in [
        "How does ketamine work?",
        "What is the capital of France?",
        "How much ketamine should I take?",
        "Does insurance cover infusions?",
    ]:
        trace = bot.trace(bot.query(question), always_retrieve=True)
        assert route(trace, bot.settings) is bot.ask(question).kind, question


NEW_DOC = """---
id: clinic-parking
title: Parking at the Clinic
kind: clinic-article
---

## Parking

Patients receiving infusions may park free of charge in the blue garage behind the clinic.
"""


def _bot_over_a_copy(tmp_path, embedder, index_check_seconds, **options):
    """A bot over its own indexed copy of the corpus, and a way to ingest that copy again."""
    import shutil

    from conftest import CORPUS, make_settings
    from ketabot.bot import Bot
    from ketabot.ingest import ingest

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(
        tmp_path, corpus=corpus, index_check_seconds=index_check_seconds, **options
    )
    ingest(settings, embedder=embedder)

    def ingest_again(parking):  # another "process": the bot is not told
        (corpus / "95-parking.md").write_text(parking)
        ingest(settings, embedder=embedder)

    return Bot(settings, embedder=embedder), ingest_again


@pytest.mark.slow
def test_a_running_bot_answers_from_each_new_ingest_without_restart(tmp_path, embedder):
    bot, ingest_again = _bot_over_a_copy(tmp_path, embedder, index_check_seconds=0)
    question = "Where can patients park for their infusions at the clinic?"
    assert "blue garage" not in bot.ask(question).text
    first = bot.retriever.snapshot.generation

    ingest_again(NEW_DOC)
    assert "blue garage" in bot.ask(question).text

    # two more ingests remove the generation the bot first opened, and then the next one
    for colour in ("green", "red"):
        ingest_again(NEW_DOC.replace("blue", colour))
    reply = bot.ask(question)
    assert reply.kind is Kind.ANSWER and "red garage" in reply.text
    assert bot.retriever.snapshot.generation != first


@pytest.mark.slow
def test_a_question_caught_mid_ingest_is_asked_again_not_dropped(tmp_path, embedder):
    # never checks the pointer on its own: only a removed generation makes it re-open
    bot, ingest_again = _bot_over_a_copy(tmp_path, embedder, index_check_seconds=3600)
    bot.ask("How does ketamine work for nerve pain?")
    for colour in ("green", "red"):
        ingest_again(NEW_DOC.replace("blue", colour))
    reply = bot.ask("Where can patients park for their infusions at the clinic?")
    assert reply.kind is Kind.ANSWER and "red garage" in reply.text


@pytest.mark.slow
def test_two_bots_sharing_a_chroma_server_both_follow_each_ingest(
    chroma_server, tmp_path, embedder
):
    """Two app processes behind one `chroma run`: both answer from the newest generation."""
    from ketabot.bot import Bot

    first, ingest_again = _bot_over_a_copy(
        tmp_path, embedder, 0, chroma_url=chroma_server, collection="shared"
    )
    second = Bot(first.settings, embedder=embedder)
    question = "Where can patients park for their infusions at the clinic?"
    for bot in (first, second):
        bot.ask(question)  # each has opened the generation that is about to be replaced
    for colour in ("blue", "green", "red"):
        ingest_again(NEW_DOC.replace("blue", colour))
        for bot in (first, second):
            reply = bot.ask(question)
            assert reply.kind is Kind.ANSWER and f"{colour} garage" in reply.text
