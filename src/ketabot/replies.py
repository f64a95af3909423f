"""The words of every reply that is not a quoted answer, in one place.

Refusals, emergency messages, off-topic and not-found replies, and the
friendly error replies are written here from the clinic's settings, so a
clinic's phone number and emergency numbers appear wherever they belong.
None of these texts contains a dose amount, ever.
"""

from __future__ import annotations

from collections.abc import Callable

from ketabot.config import Settings
from ketabot.types import Disclaimer, Reason, Reply, Verdict


class Replies:
    """Builds the non-answer replies for one clinic's settings: one text per :class:`Reason`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clinic = settings.clinic
        self.disclaimer = Disclaimer.build(settings.clinic.extra_disclaimer)
        self._bodies: dict[Reason, Callable[[], str]] = {
            Reason.MEDICAL_EMERGENCY: self._medical_emergency,
            Reason.SELF_HARM: self._self_harm,
            Reason.DOSING_ADVICE: self._dosing,
            Reason.ILLICIT_USE: self._illicit,
            Reason.OFF_TOPIC: self._off_topic,
            Reason.NO_RELEVANT_SOURCE: self._not_found,
            Reason.EMPTY_INPUT: lambda: (
                "Please type a question about ketamine treatment for nerve pain."
            ),
            Reason.TOO_LONG: lambda: (
                f"That message is too long for me to read (the limit is "
                f"{self.settings.input.max_question_chars} characters). Please ask one shorter "
                "question."
            ),
            Reason.UNREADABLE_INPUT: lambda: (
                "I couldn't read that message. Please type your question as plain text."
            ),
            Reason.INDEX_MISSING: lambda: (
                "ketabot's library of articles isn't ready yet. Please try again in a few "
                f"minutes, or ask your care team{self._contact}."
            ),
            Reason.INTERNAL_ERROR: lambda: (
                "Sorry, something went wrong on our side while answering. Please try again in "
                f"a moment, or ask your care team{self._contact}."
            ),
        }

    def body(self, reason: Reason) -> str:
        """The words for ``reason``; a reason without words is a ``KeyError``, never a fallback."""
        return self._bodies[reason]()

    def for_verdict(self, question: str, verdict: Verdict) -> Reply:
        """The reply for a triage verdict that is not "answer"."""
        if verdict.reason is None:
            raise ValueError("a verdict that is not an answer must carry its reason")
        return self._reply(question, verdict.reason, verdict.evidence)

    def not_found(self, question: str) -> Reply:
        """The sources do not answer this; say so instead of quoting something loosely related."""
        return self._reply(question, Reason.NO_RELEVANT_SOURCE)

    def error(self, question: str, reason: Reason) -> Reply:
        """A friendly reply for input or a failure the bot could not handle normally."""
        return self._reply(question, reason)

    def _reply(self, question: str, reason: Reason, evidence: tuple[str, ...] = ()) -> Reply:
        return Reply(
            question=question,
            kind=reason.kind,
            reason=reason,
            body=self.body(reason),
            disclaimer=self.disclaimer,
            evidence=evidence,
        )

    @property
    def _contact(self) -> str:
        """The clinic's contact in brackets after a leading space, or nothing if it set none."""
        return f" ({self.clinic.contact})" if self.clinic.contact else ""

    def _not_found(self) -> str:
        return (
            "I couldn't find an answer to that in ketabot's source articles, so I won't guess. "
            f"Please ask your care team{self._contact}.\n\n"
            f"{self._examples('Questions the articles do answer:')}"
        )

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
