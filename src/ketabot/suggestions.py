"""What "not found" offers: the questions the sources do answer that are closest to the one asked.

The candidates are the clinic's example questions and the corpus folder's question list
(``_questions.txt``, one a line, ``#`` for notes). A candidate is offered only once the bot
has answered it from the current index (checked when first needed and remembered until the
index is reloaded), so a suggestion never leads to another "not found".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ketabot.embeddings import Embedder

QUESTIONS_FILE = "_questions.txt"
# Candidates checked per "not found" at most: the nearest first, until enough answer.
LOOK_AT = 8


def read_questions(corpus: Path, examples: Sequence[str] = ()) -> list[str]:
    """The clinic's examples, then the corpus folder's question list, without repeats."""
    path = corpus / QUESTIONS_FILE
    listed = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    lines = [q.strip() for q in [*examples, *listed]]
    return list(dict.fromkeys(q for q in lines if q and not q.startswith("#")))


class Suggestions:
    """The nearest answered questions to a vector; ``answers`` says whether the bot answers one."""

    def __init__(
        self, questions: Sequence[str], embedder: Embedder, answers: Callable[[str], bool]
    ) -> None:
        self.questions = list(questions)
        self.vectors = embedder.embed(self.questions) if self.questions else np.zeros((0, 0))
        self._answers = answers
        self._answered: dict[str, bool] = {}

    def closest(self, vector: np.ndarray, asked: str, count: int = 3) -> tuple[str, ...]:
        """Up to ``count`` answered questions nearest in meaning to ``vector``, nearest first."""
        if not self.questions:
            return ()
        order = np.argsort(-(self.vectors @ vector))[:LOOK_AT]
        chosen: list[str] = []
        for i in order:
            question = self.questions[int(i)]
            if question.casefold() != asked.casefold() and self._answered_(question):
                chosen.append(question)
                if len(chosen) == count:
                    break
        return tuple(chosen)

    def _answered_(self, question: str) -> bool:
        if question not in self._answered:
            self._answered[question] = self._answers(question)
        return self._answered[question]
