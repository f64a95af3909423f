import logging

import pytest

from ketabot.bot import check_question, user_turns
from ketabot.types import Kind, Turn


@pytest.mark.parametrize(
    ("question", "problem"),
    [
        ("", "empty_input"),
        ("    \n\t ", "empty_input"),
        ("???!!!", "empty_input"),
        ("<script>alert(1)</script>", "empty_input"),
        ("a" * 5000, "too_long"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "unreadable_input"),
        ("\x00\x01\x02\x03 binary", "unreadable_input"),
        ("text with a replacement char \ufffd", "unreadable_input"),
        (None, "unreadable_input"),
        (42, "unreadable_input"),
    ],
)
def test_bad_input_is_recognised(question, problem):
    assert check_question(question, 1000) == ("", problem)


def test_html_and_stray_control_characters_are_cleaned():
    assert check_question("<b>How does ketamine work?</b>", 1000) == (
        "How does ketamine work?",
        None,
    )
    assert check_question("How does\x07 ketamine &amp; pain\u200b work?", 1000)[0] == (
        "How does ketamine & pain work?"
    )


def test_history_in_every_supported_shape():
    history = [
        "first",
        Turn("second", Kind.ANSWER),
        {"role": "user", "content": "third"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": ["not", "text"]},
    ]
    assert user_turns(history, 6) == ["first", "second", "third"]
    assert user_turns(history, 2) == ["second", "third"]
    assert user_turns(None, 6) == []


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
