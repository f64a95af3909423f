import pytest

from ketabot.types import MANDATORY_DISCLAIMER, Citation, Disclaimer, Kind, Reply


def _citation(n: int = 1) -> Citation:
    return Citation(n, "doc", "Title", "Section", "doc:1", "A quote.", "A quote. More.", "Pub")


def test_disclaimer_must_start_with_the_mandatory_text():
    with pytest.raises(ValueError):
        Disclaimer("Not medical advice.")
    with pytest.raises(ValueError):
        Disclaimer(MANDATORY_DISCLAIMER[:-5])


def test_clinic_sentence_is_added_after_never_instead():
    disclaimer = Disclaimer.build("Call Example Clinic with questions.")
    assert disclaimer.text.startswith(MANDATORY_DISCLAIMER)
    assert disclaimer.text.endswith("Call Example Clinic with questions.")
    assert Disclaimer.build("").text == MANDATORY_DISCLAIMER


def test_a_reply_cannot_be_built_without_a_disclaimer():
    with pytest.raises(TypeError):
        Reply(question="q", kind=Kind.ANSWER, body="b")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Reply(question="q", kind=Kind.REFUSAL, body="b", disclaimer=MANDATORY_DISCLAIMER)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_renders_the_disclaimer_last(kind):
    citations = (_citation(),) if kind is Kind.ANSWER else ()
    reply = Reply("q", kind, "body", Disclaimer.build(), citations=citations)
    assert reply.text.endswith(MANDATORY_DISCLAIMER)
    assert reply.to_json()["disclaimer"] == MANDATORY_DISCLAIMER
    assert reply.to_json()["text"].endswith(MANDATORY_DISCLAIMER)


def test_only_answers_carry_citations():
    with pytest.raises(ValueError):
        Reply("q", Kind.REFUSAL, "body", Disclaimer.build(), citations=(_citation(),))


def test_json_contract_fields():
    reply = Reply("q?", Kind.ANSWER, "“A quote.” [1]", Disclaimer.build(), citations=(_citation(),))
    data = reply.to_json()
    assert set(data) >= {"question", "kind", "reason", "text", "citations", "disclaimer"}
    assert data["kind"] == "answer" and data["reason"] is None
    assert set(data["citations"][0]) >= {"n", "doc_id", "title", "section", "chunk_id", "quote"}
    assert "Sources:" in data["text"] and "[1] Title — Section (Pub)" in data["text"]
