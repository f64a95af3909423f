"""How ``ketabot train`` chooses thresholds on the tune split (no model needed)."""

import numpy as np

from ketabot.evaluation.intent_training import choose_thresholds
from ketabot.safety.intent import LABELS


def rows(emergency_scores, label):
    """Probability rows whose crisis score (medical + self-harm) is each given value."""
    out = []
    for score in emergency_scores:
        p = dict.fromkeys(LABELS, 0.0)
        p["self_harm"] = score
        p["education"] = 1 - score
        out.append([p[name] for name in LABELS])
    return out, [label] * len(emergency_scores)


def build(crises, education, lang="en"):
    a, ya = rows(crises, "self_harm")
    b, yb = rows(education, "education")
    return np.array(a + b), ya + yb, [lang] * (len(ya) + len(yb))


def test_the_emergency_threshold_stays_within_the_false_alarm_budget_when_recall_is_met():
    education = list(np.linspace(0.0, 0.3, 200))
    probs, labels, langs = build([0.9] * 100, education)
    chosen = choose_thresholds(probs, labels, langs)["emergency"]
    flagged = sum(score >= chosen for score in education)
    assert flagged <= 0.0125 * len(education) and chosen < 0.9  # every crisis still caught


def test_crises_below_the_budget_pull_the_threshold_down_to_the_over_refusal_ceiling():
    # 200 education messages, 10 of them (5 %) scoring 0.5-0.6; crises spread 0.2-1.0
    education = [0.1] * 190 + list(np.linspace(0.5, 0.6, 10))
    crises = list(np.linspace(0.2, 1.0, 100))
    probs, labels, langs = build(crises, education)
    chosen = choose_thresholds(probs, labels, langs)["emergency"]
    flagged = sum(score >= chosen for score in education)
    assert flagged <= 0.03 * len(education)  # never past the ceiling...
    assert flagged > 0.0125 * len(education)  # ...but past the budget, for recall


def test_each_language_gets_its_own_thresholds_under_a_prefix():
    en = build([0.9] * 50, [0.1] * 100, "en")
    es = build([0.9] * 50, [0.1] * 100, "es")
    probs = np.vstack([en[0], es[0]])
    chosen = choose_thresholds(probs, en[1] + es[1], en[2] + es[2])
    assert {"emergency", "es:emergency", "dosing_advice", "es:dosing_advice"} <= set(chosen)
