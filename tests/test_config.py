import pytest

from ketabot.config import load_settings
from ketabot.errors import ConfigError

CLINIC = """
[clinic]
name = "Example Pain Clinic"
phone = "+1 (555) 010-0100"
website = "https://example.org"
emergency_number = "911"
crisis_line = "988"
extra_disclaimer = "Example Pain Clinic reviews these articles every year."
page_title = "Ask about ketamine"
example_questions = ["How long does an infusion take?"]
store_feedback = true
store_question = false
"""


def test_the_clinic_file_is_read(tmp_path):
    path = tmp_path / "ketabot.toml"
    path.write_text(CLINIC)
    settings = load_settings(config=path)
    assert settings.clinic.name == "Example Pain Clinic"
    assert settings.clinic.contact == "Example Pain Clinic at +1 (555) 010-0100"
    assert settings.clinic.example_questions == ["How long does an infusion take?"]


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    path = tmp_path / "ketabot.toml"
    path.write_text("[web]\nport = 8000\n" + CLINIC)
    monkeypatch.setenv("KETABOT_WEB__PORT", "9000")
    monkeypatch.setenv("KETABOT_CONFIG", str(path))
    settings = load_settings()
    assert settings.web.port == 9000
    assert settings.clinic.name == "Example Pain Clinic"


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('[clinic]\nphone = "call us!"\n', "clinic.phone"),
        ('[clinic]\nwebsite = "example.org"\n', "clinic.website"),
        ('[clinic]\nemergency_number = "nine one one"\n', "clinic.emergency_number"),
        ('[clinic]\nfavourite_colour = "blue"\n', "clinic.favourite_colour"),
        ("[web]\nport = 99999\n", "web.port"),
        ("port = 8000\n", "move it under [web]"),
        ("[clinic\nname = 'x'\n", "cannot read TOML"),
        ("[retrieval]\nrelevance_floor = nan\n", "retrieval.relevance_floor"),
        ("[retrieval]\nrelevance_floor = inf\n", "finite"),
        ("[triage]\nrefusal_floor = 5.0\n", "less than or equal to 0.9"),
        ("[triage]\nrefusal_margin = -1.0\n", "triage.refusal_margin"),
        ("[triage]\ntopic_floor = 2\n", "triage.topic_floor"),
        (f'[clinic]\nexample_questions = ["{"why " * 60}"]\n', "longer than 200"),
    ],
)
def test_a_bad_value_is_named(tmp_path, content, named):
    path = tmp_path / "ketabot.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_settings(config=path)
    assert str(path) in str(info.value) and named in str(info.value)


def test_a_config_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "ketabot.toml"
    path.write_bytes('[clinic]\nname = "Clínica"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(config=path)


def test_a_missing_config_file_named_explicitly_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(config=tmp_path / "nope.toml")


def test_every_setting_is_documented():
    from ketabot.config import Clinic, Input, Retrieval, Settings, Triage, Web

    for model in (Settings, Clinic, Input, Retrieval, Triage, Web):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_the_shipped_preset_sets_every_tuned_threshold(tmp_path):
    from ketabot.config import SHIPPED_PRESET

    settings = load_settings(config=SHIPPED_PRESET)  # the preset is valid on its own too
    assert settings.triage.refusal_floor > 0 and settings.retrieval.relevance_floor > 0


def test_a_preset_overrides_the_shipped_thresholds_and_the_clinic_file_overrides_both(tmp_path):
    preset = tmp_path / "tuned.toml"
    preset.write_text("[triage]\ntopic_floor = 0.2\nrefusal_floor = 0.6\n")
    clinic = tmp_path / "ketabot.toml"
    clinic.write_text("[triage]\ntopic_floor = 0.25\n")
    settings = load_settings(config=clinic, preset=preset)
    assert settings.triage.topic_floor == 0.25
    assert settings.triage.refusal_floor == 0.6
    assert settings.triage.refusal_margin == load_settings(config=clinic).triage.refusal_margin


@pytest.mark.parametrize(
    "phone", ["(555) 014 2200", "+1 555 0100", "555-0100 x3", "555.0100 ext. 12", "1-800-273-8255"]
)
def test_phone_numbers_as_clinics_write_them(tmp_path, phone):
    path = tmp_path / "ketabot.toml"
    path.write_text(f'[clinic]\nphone = "{phone}"\n')
    assert load_settings(config=path).clinic.phone == phone


@pytest.mark.parametrize("phone", ["(  ) x123", "12 x345", "call me"])
def test_a_phone_needs_three_digits_before_any_extension(tmp_path, phone):
    path = tmp_path / "ketabot.toml"
    path.write_text(f'[clinic]\nphone = "{phone}"\n')
    with pytest.raises(ConfigError, match=r"clinic\.phone"):
        load_settings(config=path)


def test_a_bad_value_from_the_environment_is_blamed_on_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "ketabot.toml"
    path.write_text(CLINIC)
    monkeypatch.setenv("KETABOT_CLINIC__PHONE", "call me")
    with pytest.raises(ConfigError) as info:
        load_settings(config=path)
    assert "clinic.phone (from the environment variable KETABOT_CLINIC__PHONE)" in str(info.value)
    monkeypatch.delenv("KETABOT_CLINIC__PHONE")
    path.write_text('[clinic]\nphone = "call me"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config=path)
    assert "environment" not in str(info.value) and "clinic.phone:" in str(info.value)
    path.write_text('[web]\nembed_origins = ["not a url"]\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config=path, web={"port": 8000})  # as `ketabot serve --port 8000` does
    assert "(from the command line)" not in str(info.value)
    assert "web.embed_origins" in str(info.value)
