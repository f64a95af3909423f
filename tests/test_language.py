import pytest

from ketabot.language import detect


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("How does ketamine work for nerve pain?", "en"),
        ("how many mg should i take", "en"),
        ("CRPS ketamine?", "en"),
        ("what about for my heart?", "en"),
        ("¿Cuánta ketamina debo tomar para mi dolor?", "es"),
        ("q efectos secundarios tiene", "es"),
        ("mi mama tomo todas las pastillas", "es"),
        ("tengo dolor en el pecho", "es"),
        ("Comment fonctionne la kétamine pour la douleur?", "other"),
        ("Wie wirkt Ketamin bei Nervenschmerzen?", "other"),
    ],
)
def test_english_spanish_and_others_are_told_apart(text, language):
    assert detect(text) == language


def test_a_short_unsure_question_counts_as_english():
    assert detect("help") == "en"


def test_a_regional_tag_names_its_language_and_others_none():
    from ketabot.language import supported

    assert supported("es-MX") == "es" and supported("EN_us") == "en" and supported("es") == "es"
    assert supported("fr") is None and supported("") is None


def test_the_callers_word_settles_only_a_close_call():
    from ketabot.language import detect

    assert detect("no") == "en" and detect("no", prefer="es") == "es"
    assert detect("How does ketamine work for nerve pain?", prefer="es") == "en"
    assert detect("¿Cómo funciona la ketamina para el dolor de nervios?", prefer="en") == "es"
