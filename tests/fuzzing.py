"""Seeded fuzz inputs for the Python API and the HTTP API (shared by the fuzz tests).

Three kinds, mixed: values that are not text at all, text that is broken in the ways
the hardening issue lists (empty, huge, binary, invisible characters, HTML, lone
surrogates, control characters), and sensible questions with a mutation, which must still
get a real reply rather than ``error``.
"""

from __future__ import annotations

import random
from typing import Any

SENSIBLE = (
    "How does ketamine work for nerve pain?",
    "What side effects can ketamine infusions cause?",
    "Who should not receive ketamine therapy?",
    "What is neuropathic pain?",
    "How long does an infusion take?",
    "Is ketamine addictive?",
    "¿Qué es el dolor neuropático?",
    "How much ketamine should I take?",
    "I took all my pills and can't breathe",
)
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2066")
HTML = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<b>", "](javascript:x)")
ODD_VALUES: tuple[Any, ...] = (None, 42, 3.5, True, b"bytes", [], {}, ["list"], {"q": "x"})


def fuzz_inputs(count: int, seed: int) -> list[tuple[Any, Any, bool]]:
    """``count`` seeded ``(question, history, sensible)`` triples."""
    rng = random.Random(seed)
    # Mostly the cheap kinds: a sensible question costs a full answer (tens of ms).
    makers = (_odd, _broken, _odd, _broken, _odd, _broken, _odd, _broken, _broken, _sensible)
    return [makers[i % len(makers)](rng) for i in range(count)]


def _odd(rng: random.Random) -> tuple[Any, Any, bool]:
    history = rng.choice([None, [], 42, "text", [None, 5], [{"role": "user"}], ["ok"] * 50])
    return rng.choice(ODD_VALUES), history, False


def _broken(rng: random.Random) -> tuple[Any, Any, bool]:
    kind = rng.randrange(7)
    if kind == 0:
        text = "".join(rng.choice((*INVISIBLE, " ", "\t", "\n")) for _ in range(rng.randrange(40)))
    elif kind == 1:
        text = rng.choice(SENSIBLE) * rng.randrange(50, 400)
    elif kind == 2:
        text = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).decode("latin-1")
    elif kind == 3:
        text = "".join(
            chr(rng.choice([rng.randrange(0xD800, 0xE000), rng.randrange(32)]))
            for _ in range(rng.randrange(1, 30))
        )
    elif kind == 4:
        text = rng.choice(HTML) + rng.choice(SENSIBLE) + rng.choice(HTML)
    elif kind == 5:
        text = "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(1, 120)))
    else:
        text = ""
    return text, rng.choice([None, [], [text[:50]]]), False


def _sensible(rng: random.Random) -> tuple[Any, Any, bool]:
    question = rng.choice(SENSIBLE)
    mutation = rng.randrange(5)
    if mutation == 0:  # an invisible character inside a word
        at = rng.randrange(1, len(question))
        question = question[:at] + rng.choice(INVISIBLE[:5]) + question[at:]
    elif mutation == 1:
        question = question.upper()
    elif mutation == 2:
        question = f"  {question}  \n"
    elif mutation == 3:
        question = rng.choice(HTML[2:]) + question
    history = rng.choice([None, [], [rng.choice(SENSIBLE)]])
    return question, history, True
