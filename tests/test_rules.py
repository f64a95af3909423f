"""Every safety rule kept as data matches its examples and none of its counterexamples."""

import pytest

from ketabot.safety.normalize import normalize
from ketabot.safety.rules import data_rules

RULES = [
    (group, rule) for group in ("self_harm", "medical_emergency") for rule in data_rules(group)
]


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
