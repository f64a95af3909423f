"""The words of every reply that is not a quoted answer, in one place.

Refusals, emergency messages, off-topic and not-found replies, and the
friendly error replies are written here from the clinic's settings, so a
clinic's phone number and emergency numbers appear wherever they belong.
None of these texts contains a dose amount, ever.
"""

from __future__ import annotations

from ketabot.config import Settings
from ketabot.types import Disclaimer, Kind, Reply, Verdict

# Reasons for replies of kind "error".
EMPTY = "empty_input"
TOO_LONG = "too_long"
UNREADABLE = "unreadable_input"
INDEX_MISSING = "index_missing"
INTERNAL = "internal_error"


class Replies:
    """Builds the non-answer replies for one clinic's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clinic = settings.clinic
        self.disclaimer = Disclaimer.build(settings.clinic.extra_disclaimer)

    def for_verdict(self, question: str, verdict: Verdict) -> Reply:
        """The reply for a triage verdict that is not "answer"."""
        body = {
            ("emergency", "self_harm"): self._self_harm,
            ("emergency", "medical_emergency"): self._medical_emergency,
            ("refusal", "dosing_advice"): self._dosing,
            ("refusal", "illicit_use"): self._illicit,
        }.get((verdict.kind.value, verdict.reason or ""), self._off_topic)()
        return self._reply(question, verdict.kind, verdict.reason, body, verdict.evidence)

    def not_found(self, question: str) -> Reply:
        """The sources do not answer this; say so instead of quoting something loosely related."""
        body = (
            "I couldn't find an answer to that in ketabot's source articles, so I won't guess. "
            f"Please ask your care team{self._contact}.\n\n"
            f"{self._examples('Questions the articles do answer:')}"
        )
        return self._reply(question, Kind.NOT_FOUND, "no_relevant_source", body)

    def error(self, question: str, reason: str) -> Reply:
        """A friendly reply for input or a failure the bot could not handle normally."""
        body = {
            EMPTY: "Please type a question about ketamine treatment for nerve pain.",
            TOO_LONG: (
                f"That message is too long for me to read (the limit is "
                f"{self.settings.max_question_chars} characters). Please ask one shorter question."
            ),
            UNREADABLE: ("I couldn't read that message. Please type your question as plain text."),
            INDEX_MISSING: (
                "ketabot's library of articles isn't ready yet. Please try again in a few minutes, "
                f"or ask your care team{self._contact}."
            ),
        }.get(
            reason,
            "Sorry, something went wrong on our side while answering. Please try again in a "
            f"moment, or ask your care team{self._contact}.",
        )
        return self._reply(question, Kind.ERROR, reason, body)

    def _reply(
        self,
        question: str,
        kind: Kind,
        reason: str | None,
        body: str,
        evidence: tuple[str, ...] = (),
    ) -> Reply:
        return Reply(
            question=question,
            kind=kind,
            reason=reason,
            body=body,
            disclaimer=self.disclaimer,
            evidence=evidence,
        )

    @property
    def _contact(self) -> str:
        """The clinic's contact in brackets after a leading space, or nothing if it set none."""
        return f" ({self.clinic.contact})" if self.clinic.contact else ""

    def _medical_emergency(self) -> str:
        return (
            f"**This may be a medical emergency. Call {self.clinic.emergency_number} now** "
            "(or your local emergency number). If someone is not breathing or not responding, "
            "call now and follow the call handler's instructions. Do not wait for an answer "
            "from this chat, and do not drive yourself.\n\n"
            f"When you are safe, let your care team know what happened{self._contact}."
        )

    def _self_harm(self) -> str:
        return (
            f"**I'm really sorry you're feeling this way. If you might act on these thoughts, "
            f"call {self.clinic.emergency_number} now.**\n\n"
            f"You can call or text **{self.clinic.crisis_line}** (Suicide & Crisis Lifeline) "
            "at any time to talk with someone who can help. Living with constant pain is "
            "exhausting, and you deserve support. Please also tell your care team how you are "
            f"feeling{self._contact}."
        )

    def _dosing(self) -> str:
        return (
            "I can't give dosing advice: how much, how often, or changing, skipping, combining, "
            "starting or stopping any medicine, for you or for anyone else. Those decisions "
            "belong to the clinician who prescribes the treatment, because they know the "
            "medical history and the other medicines involved.\n\n"
            f"Please ask your care team{self._contact}.\n\n"
            "What I can do is explain, from the clinic's articles, how dosing is controlled "
            "during an infusion, what an infusion involves and what side effects to watch for. "
            "For example, ask: “Why is the dose controlled so carefully during an infusion?”"
        )

    def _illicit(self) -> str:
        return (
            "I can't help with getting or using ketamine outside of medical care. Ketamine for "
            "pain should only be given by qualified clinicians in a monitored setting.\n\n"
            "If you are worried about your own or someone else's use of ketamine or other "
            f"substances, your care team can help in confidence{self._contact}."
        )

    def _off_topic(self) -> str:
        return (
            "I can only help with questions about ketamine treatment for nerve (neuropathic) "
            "pain, and I answer only with quotes from the clinic's articles.\n\n"
            f"{self._examples('You could ask:')}"
        )

    def _examples(self, lead: str) -> str:
        examples = self.clinic.example_questions[:3]
        return "\n".join([lead, *(f"- {q}" for q in examples)]) if examples else ""
