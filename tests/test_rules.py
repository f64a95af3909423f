"""Every safety rule kept as data matches its examples and none of its counterexamples."""

from importlib import resources

import pytest
import yaml

from ketabot.safety.normalize import normalize
from ketabot.safety.rules import DATA_GROUPS, data_rules

RULES = [(group, rule) for group in DATA_GROUPS for rule in data_rules(group)]


def test_every_data_rule_names_a_group_the_triage_checks():
    path = resources.files("ketabot.safety").joinpath("data", "rules.yaml")
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert {item["group"] for item in items} <= set(DATA_GROUPS)
    assert len(RULES) == len(items)
    # only illicit rules may run before the dosing rules (ILLICIT_SPECIFIC)
    assert {item["group"] for item in items if item.get("precedes_dosing")} == {"illicit_use"}


@pytest.mark.parametrize(("group", "rule"), RULES, ids=[r.name for _, r in RULES])
def test_a_data_rule_matches_its_examples_and_none_of_its_counterexamples(group, rule):
    assert len(rule.examples) >= 2 and len(rule.counterexamples) >= 2
    for text in rule.examples:
        assert rule.search(normalize(text)), f"{rule.name} misses {text!r}"
    for text in rule.counterexamples:
        assert not rule.search(normalize(text)), f"{rule.name} wrongly matches {text!r}"


def test_homoglyphs_read_as_the_letters_they_imitate():
    assert normalize("what dose of k\u0435t\u0430m\u0456n\u0435 is l\u0435th\u0430l") == (
        "what dose of ketamine is lethal"
    )


@pytest.mark.parametrize(
    ("rule_name", "text", "matches"),
    [
        ("recreational", "first time trying k at a rave next weekend", True),
        ("recreational", "can i bring my lozenges to a house party and share", True),
        ("recreational", "How do I set a party on fire when I'm DJing?", False),
        (
            "recreational",
            "used to party with ket in my 20s, now i have crps. am i disqualified?",
            False,
        ),
        ("recreational", "used to party with ket in my 20s and want to again this weekend", True),
        ("urgent_symptom_personal", "i took a bunch of my lozenges and can't breathe", True),
        ("change_my_medicine", "could ketamine help me cut down on my pain pills", False),
        ("change_my_medicine", "can i cut down on my pain pills now that i have ketamine", True),
        ("how_often_personal", "how long do i stay at the clinic before i can leave", False),
        ("how_often_personal", "how often should i use my spray", True),
        (
            "urgent_symptom_personal",
            "my mom had a bunch of lozenges left over, can i use them",
            False,
        ),
    ],
)
def test_code_rules_match_what_is_meant_not_what_it_resembles(rule_name, text, matches):
    from ketabot.safety.rules import DOSING, ILLICIT, MEDICAL_EMERGENCY

    rule = next(r for r in [*ILLICIT, *MEDICAL_EMERGENCY, *DOSING] if r.name == rule_name)
    assert bool(rule.search(normalize(text))) is matches
