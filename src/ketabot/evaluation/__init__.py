"""Maintainer tooling: labelled cases, one runner, metrics, report, tuning, baseline, bench.

Installed with the ``eval`` extra (``pip install 'ketabot[eval]'``); a clinic that
only serves the chat never needs it. :func:`require` turns a missing extra into
one clear message instead of an ImportError deep inside a command.
"""

from __future__ import annotations

import importlib.util

from ketabot.errors import MissingExtraError

EXTRA_MODULES = ("ranx", "matplotlib", "scipy", "sklearn", "langchain_chroma")


def require(command: str) -> None:
    """Raise :class:`MissingExtraError` when the ``eval`` extra is not installed."""
    missing = [m for m in EXTRA_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(command, "eval", missing)
