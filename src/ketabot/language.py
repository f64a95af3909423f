"""Which language a question is written in: English, Spanish, or another one.

py3langid (a maintained fork of langid.py, its model inside the package, nothing
downloaded) ranks a few languages patients of US clinics write in. Short questions
are hard to tell apart, so a question is called another language only when the
detector is sure and it has a few words; otherwise English and Spanish are weighed
against each other, and English wins a close call (the sources are English) unless the
caller says the patient writes Spanish (the JSON API's ``language``): then a tie is Spanish.
"""

from __future__ import annotations

from functools import cache
from typing import Any

SUPPORTED = ("en", "es")
OTHER = "other"
# Languages ranked besides the two supported ones, so that "other" can be recognised.
_RANKED = ["en", "es", "fr", "de", "pt", "it", "zh", "vi", "ko", "ar", "ru", "tl", "ht", "pl"]
_OTHER_SURE = 0.9
_OTHER_MIN_WORDS = 3
_SPANISH_SURE = 0.7
# With the caller's word that the patient writes Spanish, a tie is enough.
_SPANISH_PREFERRED = 0.5


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(_RANKED)
    return identifier


def supported(tag: str) -> str | None:
    """The supported language a tag such as "es-MX" names, or ``None``."""
    primary = tag.strip().split("-")[0].split("_")[0].lower()
    return primary if primary in SUPPORTED else None


def detect(text: str, prefer: str | None = None) -> str:
    """The language of ``text`` (plain, checked text): "en", "es" or "other".

    ``prefer`` ("en" or "es") is the caller's word for the patient's language.
    """
    ranked = dict(_identifier().rank(text))
    best = max(ranked, key=lambda code: ranked[code])
    sure = ranked[best] >= _OTHER_SURE and len(text.split()) >= _OTHER_MIN_WORDS
    if best not in SUPPORTED and sure:
        return OTHER
    spanish = ranked["es"] / ((ranked["es"] + ranked["en"]) or 1.0)
    sure_enough = _SPANISH_PREFERRED if prefer == "es" else _SPANISH_SURE
    return "es" if spanish >= sure_enough else "en"


def warm() -> None:
    """Load the detector's model now (about a second) rather than on the first question."""
    _identifier()
