from hypothesis import given
from hypothesis import strategies as st

from ketabot.text import fold, is_complete_sentence, sentence_spans, sentences, unleet


def test_sentences_split_on_terminal_punctuation():
    text = "Ketamine is an NMDA antagonist. It modulates glutamate! Does it help? Yes."
    assert sentences(text) == [
        "Ketamine is an NMDA antagonist.",
        "It modulates glutamate!",
        "Does it help?",
        "Yes.",
    ]


def test_abbreviations_and_initials_do_not_end_a_sentence():
    text = "Drugs, e.g. opioids, vs. NSAIDs were studied by Dr. Smith and J. Doe. Next one."
    assert sentences(text) == [
        "Drugs, e.g. opioids, vs. NSAIDs were studied by Dr. Smith and J. Doe.",
        "Next one.",
    ]


def test_list_markers_and_headings_are_not_part_of_sentences():
    text = (
        "## Side Effects\n\n- Ketamine can cause nausea.\n1. Monitoring is needed.\n"
        "a. Rapid Relief: fast."
    )
    assert sentences(text) == [
        "Ketamine can cause nausea.",
        "Monitoring is needed.",
        "Rapid Relief: fast.",
    ]


def test_sentences_never_cross_a_line_break():
    assert sentences("first line without stop\nSecond line.") == [
        "first line without stop",
        "Second line.",
    ]


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=400))
def test_spans_are_ordered_non_overlapping_slices(text):
    previous_end = 0
    for start, end in sentence_spans(text):
        assert previous_end <= start < end <= len(text)
        assert text[start:end] == text[start:end].strip()
        previous_end = end


def test_fragments_are_not_complete_sentences():
    assert is_complete_sentence("Ketamine has emerged as a promising option.")
    assert not is_complete_sentence("Ketamine has emerged as a")


def test_fold_and_unleet():
    assert fold("  Kétamine’s  DOSE ") == "ketamine's dose"
    assert unleet("k3tam1ne") == "ketamine"
    assert unleet("ketamine") == "ketamine"
