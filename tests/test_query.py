import numpy as np
import pytest

from ketabot.query import build_query, check_question, is_follow_up, user_turns
from ketabot.types import Kind, Reason, Turn


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
        {"role": "user", "content": [{"type": "text", "text": "fourth"}]},  # Gradio 6 blocks
        {"role": "user", "content": [{"type": "file", "path": "/x.png"}]},
    ]
    assert user_turns(history, 6) == ["first", "second", "third", "fourth"]
    assert user_turns(history, 2) == ["third", "fourth"]
    assert user_turns(None, 6) == []


@pytest.mark.parametrize("history", ["text", b"text", 42, {"role": "user", "content": "hi"}])
def test_history_that_is_not_a_list_of_turns_is_refused_clearly(history):
    with pytest.raises(ValueError, match="history must be a list"):
        user_turns(history, 6)


def test_a_huge_history_is_read_only_as_far_back_as_needed(monkeypatch):
    import ketabot.query

    checked = []
    real = ketabot.query.check_question
    monkeypatch.setattr(
        ketabot.query, "check_question", lambda t, n: checked.append(t) or real(t, n)
    )
    history = [f"question {i}" for i in range(10_000)]
    assert user_turns(history, 6) == [f"question {i}" for i in range(9_994, 10_000)]
    assert len(checked) == 6


def test_history_may_be_any_iterable_of_turns():
    assert user_turns((t for t in ["first", "second"]), 6) == ["first", "second"]


@pytest.mark.parametrize("question", ["\ud800" * 30, "why?\udfff" + "a" * 2000])
def test_a_question_with_lone_surrogates_is_echoed_as_valid_utf8(hash_embedder, question):
    query = build_query(question, None, hash_embedder, max_chars=1000, max_turns=6)
    assert query.problem is not None
    query.question.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate


def _query(hash_embedder, question, history=None):
    return build_query(question, history, hash_embedder, max_chars=1000, max_turns=6)


def test_a_query_is_checked_normalised_and_embedded_once(hash_embedder):
    query = _query(hash_embedder, "<b>How does K3tamine work?</b>")
    assert query.text == "How does K3tamine work?"
    assert query.normalized == "how does ketamine work?"
    assert query.search_text == query.normalized and not query.follow_up
    assert hash_embedder.embedded == ["how does ketamine work?"]
    assert np.allclose(query.vector, query.search_vector)


def test_a_follow_up_that_refers_back_is_searched_with_the_earlier_topic(hash_embedder):
    query = _query(hash_embedder, "and its side effects?", ["What is ketamine?"])
    assert query.follow_up and query.previous == "what is ketamine?"
    assert query.search_text == "and ketamine side effects?"
    # the triage still reads the two turns together, as it was trained to
    assert query.context_text == "what is ketamine? and its side effects?"
    assert query.history == ("What is ketamine?",)


@pytest.mark.parametrize(
    ("follow_up", "previous", "searched"),
    [
        # history must help: the follow-up alone does not say what it is about
        (
            "and is it addictive?",
            "What is ketamine infusion therapy?",
            "and is ketamine infusion therapy addictive?",
        ),
        ("what about for children?", "Who can receive ketamine?", "receive ketamine for children?"),
        ("y para eso?", "que es la ketamina", "y para ketamine?"),
        # history must not hurt: the follow-up names its own topic
        (
            "what about side effects?",
            "How does ketamine work in the brain?",
            "what about side effects?",
        ),
        ("and what about nausea", "Can ketamine raise blood pressure?", "and what about nausea"),
    ],
)
def test_follow_ups_are_resolved_not_concatenated(hash_embedder, follow_up, previous, searched):
    query = _query(hash_embedder, follow_up, [previous])
    assert query.follow_up
    assert query.search_text == searched


def test_bad_input_becomes_a_problem_not_an_exception(hash_embedder):
    query = _query(hash_embedder, "a" * 5000)
    assert query.problem is Reason.TOO_LONG and query.text == ""
    assert query.question.endswith("…") and hash_embedder.embedded == []


def test_follow_up_detection():
    assert is_follow_up("and for my mother?")
    assert not is_follow_up("how does ketamine relieve pain in the nerves of the feet and hands")


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("i  w a n t  t o  d i e", "i want to die"),
        ("q u i e r o  m o r i r m e", "quiero morirme"),
        ("how  much  ketamine", "how much ketamine"),  # wide gaps alone change nothing
        ("I took K  as  prescribed", "I took K as prescribed"),
    ],
)
def test_spaced_out_words_are_rejoined_word_by_word(typed, read):
    assert check_question(typed, 1000) == (read, None)


def _labelled_messages() -> list[str]:
    import json
    from pathlib import Path

    folder = Path(__file__).parents[1] / "eval" / "triage"
    return [
        json.loads(line)["text"]
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u180e", "\u2062"]


def test_invisible_characters_inside_words_never_change_what_the_triage_reads():
    """Over every message of the labelled triage corpus: an invisible format character put
    inside a word leaves the checked text unchanged, so no reply kind can change."""
    import random

    rng = random.Random(20261121)
    messages = _labelled_messages()
    assert len(messages) > 8000
    for message in messages:
        clean, reason = check_question(message, 4000)
        words = message.split(" ")
        i = rng.randrange(len(words))
        cut = rng.randrange(1, len(words[i])) if len(words[i]) > 1 else 0
        words[i] = words[i][:cut] + rng.choice(INVISIBLE) + words[i][cut:]
        assert check_question(" ".join(words), 4000) == (clean, reason), message


@pytest.mark.parametrize(
    ("question", "history"),
    [
        ("How does ketamine work?", []),
        ("and is it addictive?", ["What is ketamine infusion therapy?"]),
        ("what about for children?", ["Who can receive ketamine?"]),
        ("what about side effects?", ["How does ketamine work?"]),
        ("", []),
        ("How does ketamine work?", "not a list"),
    ],
)
def test_query_texts_are_exactly_what_building_the_query_embeds(question, history, hash_embedder):
    from ketabot.query import query_texts

    try:
        build_query(question, history, hash_embedder, max_chars=1000, max_turns=4)
    except Exception:  # a malformed history fails here; query_texts must then need nothing
        hash_embedder.embedded.clear()
    texts = query_texts(question, history, max_chars=1000, max_turns=4)
    assert texts == hash_embedder.embedded
