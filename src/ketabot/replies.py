"""The words of every reply that is not a quoted answer, from ``texts/<language>.toml``.

The texts are data (one per :class:`~ketabot.types.Reason` and language); this module
fills in the clinic's numbers and contact and builds the :class:`Reply`. A reason or
language without its text is a ``KeyError``, never a silent fallback. None of these
texts contains a dose amount, ever.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from ketabot.config import Settings
from ketabot.types import Disclaimer, Reason, Reply, Verdict

LANGUAGES = ("en", "es")


@cache
def texts(language: str) -> dict[str, Any]:
    """The reply texts shipped for ``language``."""
    path = resources.files("ketabot").joinpath("texts", f"{language}.toml")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _table(language: str) -> dict[str, Any]:
    """The reply texts for ``language``, English for any language ketabot has none in."""
    return texts(language if language in LANGUAGES else "en")


def page_words(language: str) -> dict[str, str]:
    """The chat page's own words (labels, notices) in ``language``, English for any other."""
    return dict(_table(language.split("-")[0].lower())["page"])


class Replies:
    """Builds the non-answer replies for one clinic's settings, in English or Spanish."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clinic = settings.clinic
        self.disclaimers = {
            lang: Disclaimer.build(settings.clinic.extra_disclaimer, lang) for lang in LANGUAGES
        }
        self.disclaimer = self.disclaimers["en"]

    def disclaimer_for(self, language: str) -> Disclaimer:
        """The disclaimer in ``language`` (English for any other)."""
        return self.disclaimers.get(language, self.disclaimer)

    def body(self, reason: Reason, language: str = "en") -> str:
        """The words for ``reason`` in ``language``, with the clinic's details filled in."""
        table = _table(language)
        return str(table["reasons"][reason.value]).format(**self._values(table, reason))

    def for_verdict(self, question: str, verdict: Verdict, language: str = "en") -> Reply:
        """The reply for a triage verdict that is not "answer"."""
        if verdict.reason is None:
            raise ValueError("a verdict that is not an answer must carry its reason")
        return self._reply(question, verdict.reason, language, verdict.evidence)

    def not_found(
        self, question: str, language: str = "en", suggestions: tuple[str, ...] = ()
    ) -> Reply:
        """The sources do not answer this; say so instead of quoting something loosely related.

        ``suggestions`` (questions the sources do answer, closest to this one) are offered in
        place of the clinic's fixed examples.
        """
        reason = Reason.NO_RELEVANT_SOURCE
        table = _table(language)
        body = str(table["reasons"][reason.value]).format(
            **self._values(table, reason, suggestions)
        )
        return Reply(
            question=question,
            kind=reason.kind,
            reason=reason,
            body=body,
            disclaimer=self.disclaimer_for(language),
            suggestions=suggestions or self._offered(reason, language),
        )

    def error(self, question: str, reason: Reason, language: str = "en") -> Reply:
        """A friendly reply for input or a failure the bot could not handle normally."""
        return self._reply(question, reason, language)

    def _reply(
        self, question: str, reason: Reason, language: str, evidence: tuple[str, ...] = ()
    ) -> Reply:
        return Reply(
            question=question,
            kind=reason.kind,
            reason=reason,
            body=self.body(reason, language),
            disclaimer=self.disclaimer_for(language),
            evidence=evidence,
            suggestions=self._offered(reason, language),
        )

    def _offered(self, reason: Reason, language: str) -> tuple[str, ...]:
        """The clinic's example questions, when the words for ``reason`` list them."""
        table = _table(language)
        if "{examples}" not in str(table["reasons"][reason.value]):
            return ()
        return tuple(self.clinic.example_questions[:3])

    def _values(
        self, table: dict[str, Any], reason: Reason, suggestions: tuple[str, ...] = ()
    ) -> dict[str, str]:
        clinic = self.clinic
        lead = (
            table["examples_lead_not_found"]
            if reason is Reason.NO_RELEVANT_SOURCE
            else table["examples_lead_off_topic"]
        )
        examples = list(suggestions) or clinic.example_questions[:3]
        return {
            "emergency_number": clinic.emergency_number,
            "crisis_line": clinic.crisis_line,
            "crisis_line_note": table["crisis_line_note_988"]
            if clinic.crisis_line == "988"
            else "",
            "poison_control": clinic.poison_control,
            "contact": self._contact(table),
            "max_chars": str(self.settings.input.max_question_chars),
            "examples": "\n".join([lead, *(f"- {q}" for q in examples)]) if examples else "",
        }

    def _contact(self, table: dict[str, Any]) -> str:
        """The clinic's contact in brackets after a leading space, or nothing if it set none."""
        name, phone = self.clinic.name, self.clinic.phone
        if name and phone:
            return str(table["contact_name_phone"]).format(name=name, phone=phone)
        if name:
            return str(table["contact_name"]).format(name=name)
        return str(table["contact_phone"]).format(phone=phone) if phone else ""
