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
