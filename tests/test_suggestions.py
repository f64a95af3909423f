import pytest

from ketabot.suggestions import QUESTIONS_FILE, Suggestions, read_questions
from ketabot.types import Kind


def test_the_list_is_the_clinics_examples_then_the_corpus_file(tmp_path):
    (tmp_path / QUESTIONS_FILE).write_text("# a note\nWhat is ketamine?\n\nIs it addictive?\n")
    assert read_questions(tmp_path, ["Is it addictive?", " Who gives it? "]) == [
        "Is it addictive?",
        "Who gives it?",
        "What is ketamine?",
    ]
    assert read_questions(tmp_path / "missing") == []


def test_only_answered_questions_nearest_first_and_never_the_one_asked(hash_embedder):
    questions = ["What is ketamine?", "Is it addictive?", "Who gives it?", "What does it cost?"]
    checked = []

    def answers(question):
        checked.append(question)
        return question != "What does it cost?"

    offer = Suggestions(questions, hash_embedder, answers)
    vector = hash_embedder.embed(["What does it cost?"])[0]
    offered = offer.closest(vector, "what is ketamine?", count=2)
    assert "What does it cost?" not in offered and "What is ketamine?" not in offered
    assert len(offered) == 2
    similarity = {q: float(v @ vector) for q, v in zip(questions, offer.vectors, strict=True)}
    assert similarity[offered[0]] >= similarity[offered[1]]
    offer.closest(vector, "x")
    assert len(checked) == len(set(checked)), "each question is checked against the index once"


@pytest.mark.slow
def test_not_found_offers_questions_the_sources_answer(bot):
    reply = bot.ask("Does my insurance pay for ketamine infusions?")
    assert reply.kind is Kind.NOT_FOUND
    assert 2 <= len(reply.suggestions) <= 3
    assert reply.to_json()["suggestions"] == list(reply.suggestions)
    for question in reply.suggestions:
        assert question in reply.body
        assert bot.ask(question).kind is Kind.ANSWER, question
