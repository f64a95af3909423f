import pytest

from conftest import make_settings
from ketabot.replies import Replies
from ketabot.safety import states_dose
from ketabot.types import Kind, Reason, Verdict

VERDICTS = [
    Verdict(Kind.REFUSAL, "dosing_advice"),
    Verdict(Kind.REFUSAL, "illicit_use"),
    Verdict(Kind.EMERGENCY, "medical_emergency"),
    Verdict(Kind.EMERGENCY, "self_harm"),
    Verdict(Kind.OUT_OF_SCOPE, "off_topic"),
]


@pytest.mark.parametrize("verdict", VERDICTS)
def test_without_a_clinic_contact_the_words_still_read_well(tmp_path, verdict):
    reply = Replies(make_settings(tmp_path)).for_verdict("q", verdict)
    assert "()" not in reply.body and " ." not in reply.body and "  " not in reply.body
    assert not states_dose(reply.text)
    assert reply.text.endswith(reply.disclaimer.text)


def test_the_clinics_contact_is_named_where_it_is_set(tmp_path):
    toml = tmp_path / "clinic.toml"
    toml.write_text('[clinic]\nname = "Example Pain Clinic"\nphone = "+1 555 0100"\n')
    replies = Replies(make_settings(tmp_path, config=toml))
    for verdict in VERDICTS[:4]:
        assert "(Example Pain Clinic at +1 555 0100)" in replies.for_verdict("q", verdict).body
    assert "(Example Pain Clinic at +1 555 0100)" in replies.not_found("q").body


@pytest.mark.parametrize("reason", [r for r in Reason if r.kind is Kind.ERROR])
def test_error_replies_are_friendly(tmp_path, reason):
    reply = Replies(make_settings(tmp_path)).error("q", reason)
    assert reply.kind is Kind.ERROR and reply.reason == reason
    assert reply.text.endswith(reply.disclaimer.text)
    assert not any(word in reply.body for word in ("Traceback", "Exception", "Error", "None"))


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_reason_has_words_in_every_language(tmp_path, language):
    replies = Replies(make_settings(tmp_path))
    for reason in Reason:
        body = replies.body(reason, language)
        assert body.strip() and "{" not in body and "}" not in body, reason
        assert not states_dose(body)


def test_spanish_replies_carry_the_spanish_disclaimer_and_the_clinics_numbers(tmp_path):
    toml = tmp_path / "clinic.toml"
    toml.write_text('[clinic]\nname = "Clínica Ejemplo"\nphone = "+1 555 0100"\n')
    replies = Replies(make_settings(tmp_path, config=toml))
    crisis = replies.for_verdict("q", Verdict(Kind.EMERGENCY, "self_harm"), "es")
    assert "988" in crisis.body and "marque 2 para español" in crisis.body
    assert "(Clínica Ejemplo, al +1 555 0100)" in crisis.body
    assert crisis.text.endswith(crisis.disclaimer.text)
    assert crisis.disclaimer.text.startswith("ketabot comparte información educativa")
    medical = replies.for_verdict("q", Verdict(Kind.EMERGENCY, "medical_emergency"), "es")
    assert "1-800-222-1222" in medical.body and "911" in medical.body


def test_an_unknown_language_falls_back_to_english_words(tmp_path):
    replies = Replies(make_settings(tmp_path))
    assert replies.body(Reason.DOSING_ADVICE, "fr") == replies.body(Reason.DOSING_ADVICE, "en")
