"""The triage's explicit rules: named patterns over the normalised question.

Also the two output rules the composer applies to corpus text: a sentence
that states a dose amount, or one addressed to a chatbot, is never quoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

_DOSE_AMOUNT = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:-|–|to)?\s*(?:\d+(?:[.,]\d+)?\s*)?"
    r"(?:mg|milligrams?|mcg|µg|ug|micrograms?|ml|millilit(?:er|re)s?|cc|iu|units?|g|grams?)"
    r"(?:\s*(?:/|per)\s*(?:kg|kilo\w*|hr|hours?|h|min\w*|day|dose))*\b"
    # a bare rate ("0.5 per kilo", "1/kg") is a dose amount too
    r"|\b\d+(?:[.,]\d+)?\s*(?:/|per)\s*(?:kg|kilo\w*)\b",
    re.IGNORECASE,
)


def states_dose(text: str) -> bool:
    """True when ``text`` states a dose amount ("0.5 mg/kg", "50 mg", "2 ml")."""
    return bool(_DOSE_AMOUNT.search(text))


_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,30}\b(?:instructions|rules|guidelines|"
    r"prompt)\b|\b(?:system|assistant|developer)\s*:|</?\s*(?:context|system|instructions?)\s*>|"
    r"\byou are now\b|\bnew instructions?\b|\bas an ai\b",
    re.IGNORECASE,
)


def is_instruction(text: str) -> bool:
    """True for text addressed to a chatbot rather than to a reader ("SYSTEM: ignore ...")."""
    return bool(_INSTRUCTION.search(text))


# ---------------------------------------------------------------- rules

_PEOPLE = (
    r"(?:husband|wife|partner|boyfriend|girlfriend|mother|mom|mum|father|dad|son|daughter|"
    r"child|kid|baby|friend|brother|sister|grandmother|grandma|grandfather|grandpa|aunt|uncle|"
    r"cousin|patient|dog|cat|pet|neighbou?r|roommate|colleague)(?:'s)?"
)
_CONDITIONS = (
    r"(?:neuropathy|crps|pain|nerve pain|back pain|condition|migraines?|fibromyalgia|sciatica|"
    r"arthritis|diabetes|depression|symptoms)"
)
_OTHER = (
    rf"(?:my {_PEOPLE}|a (?:child|kid|baby|toddler|teen\w*|friend)|an? (?:adult|elderly \w+)|"
    rf"an? \d+ ?kg \w+)"
)
_WHO = rf"(?:i|me|my|myself|we|us|our|he|him|his|she|her|they|them|their|someone|somebody|{_OTHER})"
_FOR_WHOM = (
    rf"for (?:me|him|her|us|them|myself|someone|somebody|{_OTHER}|my {_CONDITIONS}|"
    rf"my {_PEOPLE} {_CONDITIONS})"
)
_DOSE_WORD = r"(?:dose|doses|dosage|dosing|amount|mg|milligrams?|mcg|ml|units?)"
_MEDS = (
    r"(?:dose|doses|dosage|ketamine|infusions?|drip|meds|medications?|medicines?|tablets?|"
    r"pills?|lozenges?|troches?|spray|gabapentin|pregabalin|oxycodone|morphine|opioids?|"
    r"antidepressants?|painkillers?|prescriptions?|treatment)"
)
_DRUG_NAMES = (
    r"(?:oxy\w*|percocet|vicodin|hydrocodone|tramadol|codeine|fentanyl|methadone|morphine|"
    r"xanax|valium|klonopin|ativan|benzos?|ambien|zolpidem|gabapentin|lyrica|pregabalin|"
    r"sertraline|zoloft|prozac|fluoxetine|ssris?|alcohol|drinks?|wine|beer|weed|cannabis)"
)
_CHANGE = (
    r"(?:double|triple|increase|raise|bump up|up|lower|decrease|reduce|cut down|cut|skip|"
    r"miss|taper|wean|stop|quit|come off|go off|start|restart|combine|mix|space out|split|"
    r"halve|make up)"
)


@dataclass(frozen=True)
class Rule:
    """A named pattern over the normalised question, with the texts it must and must not match."""

    name: str
    pattern: re.Pattern[str]
    examples: tuple[str, ...] = ()
    counterexamples: tuple[str, ...] = ()

    def search(self, text: str) -> bool:
        """True when the rule matches."""
        return bool(self.pattern.search(text))


# A rule that opens with a lookahead over the whole text starts with ^: the normalised text is
# one line, so the meaning is the same, and search no longer re-reads the text from every
# position (start_stop_own alone took 1.4 ms a question unanchored).
def _rule(name: str, pattern: str) -> Rule:
    return Rule(name, re.compile(pattern, re.IGNORECASE))


SELF_HARM = [
    _rule(
        "hurt_myself",
        # any method verb with "myself": XSTest found "hang myself" and "drown myself" missed
        r"\b(?:kill|hurt|harm|cut|cutting|burn|starve|hang|drown|shoot|poison|suffocate|smother|"
        r"strangle|electrocute|stab|gas|overdose|off)(?:ing)? (?:my ?self|myself)\b",
    ),
    _rule(
        "suicide",
        # Research and treatment talk ("studied for people with suicidal thoughts", "the prof
        # said it reduces suicidal thinking") is education, unless the writer says it of
        # themself in the same sentence ("i've been suicidal").
        r"^(?!(?=.*\b(?:stud(?:y|ies|ied)|research\w*|trials?|prof\w*|class|article|papers?|"
        r"hospitals? use|used (?:for|to treat)|approved for|(?:people|patients) with)\b)"
        r"(?!.*\b(?:i|i'?m|im|i'?ve|ive|me|my ?self|feel\w*|felt|been|getting)\b"
        r"[^.?!]{0,25}\bsuicid))"
        r".*\bsuicid\w*|"
        r"\bunalive\b|\bself[- ]?harm\w*",
    ),
    _rule(
        "end_life",
        r"\bend(?:ing)? (?:my life|it all|this all|everything|things|it now)\b|"
        r"\btake my (?:own )?life\b",
    ),
    _rule(
        "want_to_die",
        r"\b(?:want|wanted|wish|going|ready) to die\b|\bwish i (?:was|were) dead\b|"
        r"\bbetter off (?:dead|without me)\b|\bwish i (?:could )?(?:never|not) wake up\b",
    ),
    _rule(
        "not_alive",
        r"\b(?:don'?t|do not) want to (?:be alive|live|be here|wake up|go on|exist)\b|"
        r"\bcan'?t (?:go on|do this anymore|take it anymore)\b|\bcannot go on\b|"
        r"\bno (?:reason|point) (?:to|in) (?:live|living|go on|going on)\b|"
        r"\b(?:nobody|no one) would (?:miss|care)\b",
    ),
    _rule(
        "means",
        r"\b(?:take|taking|swallow\w*) (?:all|the whole bottle) (?:of )?(?:my )?"
        r"(?:pills|meds|medications?|tablets)|\bstockpil\w*",
    ),
]

_URGENT_SYMPTOM = (
    r"(?:"
    # breathing
    r"can'?t breathe?|cannot breathe|can'?t (?:get|catch) (?:air|my breath)|"
    r"(?:not|barely|hardly|stopped|trouble|difficulty|struggling to|problems?) breath\w*|"
    r"short(?:ness)? of breath|breathing (?:is )?(?:very )?(?:slow|shallow|weird|strange|hard|"
    r"difficult|laboured|labored|noisy)|gasping|choking|(?:lips|face) (?:are |is )?(?:going |"
    r"turning )?(?:blue|grey|gray)|turning blue|throat (?:is )?(?:closing|swelling)|anaphyla\w*|"
    # chest and heart
    r"chest (?:pain|tight\w*|pressure|hurts?|heav\w*|crush\w*)|(?:pain|tightness|pressure) in "
    r"(?:my|his|her|the) chest|chest (?:feels|is) (?:\w+ )?(?:tight|heavy|crushing|painful)|"
    r"crushing (?:pain|chest)|tight chest|heart attack|(?:heart|pulse) (?:is )?(?:racing|pounding|"
    r"irregular|skipping)|stroke|face (?:is |looks )?droop\w*|droopy on one side|slurred speech|"
    r"words (?:are )?coming out (?:wrong|weird|garbled|slurred)|arm (?:is|feels) numb|"
    # consciousness
    r"collapsed|unconscious|unresponsive|barely conscious|(?:isn'?t|not|won'?t|can'?t) "
    r"(?:responding|respond|waking|wake)|passed out|pass out|blacked out|faint\w*|seizure|"
    r"convuls\w*|fitting|"
    # too much taken
    # ("had a bunch of lozenges left over" is a supply, not an overdose: blind round 20)
    r"overdos\w*|(?:took|taken|had) (?:too much|too many|way too much|a bunch|a lot|loads|"
    r"double|all)(?: of)?(?!.{0,40}\b(?:left ?over|spare|saved up|stashed)\b)"
    r")"
)
_PERSONAL = (
    r"(?:\bi\b|\bi'm\b|\bme\b|\bmy\b|\bwe\b|\bhe\b|\bshe\b|\bhis\b|\bher\b|\bthey\b|"
    r"\bsomeone\b|\bsomebody\b|\bfriend\b|\bhelp\b|right now|\bhere\b|since (?:the|my) "
    r"(?:infusion|treatment|dose)|after (?:the|my|his|her) (?:infusion|treatment|dose))"
)
# Ketamine (or the treatment) as what lets someone need less of another medicine.
_HELPS_CUT = (
    r".*\b(?:ketamine|it|this|infusions?|the treatment|treatment)\b (?:\w+ ){0,2}(?:help|helps|"
    r"helped|let|lets|allow|allows)\b (?:\w+ )?(?:to )?(?:cut|reduce|lower|get off|come off|stop|"
    r"need less|wean)"
)
# Use told as the past, with nothing said about using again.
_PAST_USE = (
    r"(?=.*\b(?:used to|years ago|in my (?:teens|20s|twenties|30s|thirties|youth)|back in "
    r"(?:college|the day|high school|my)|not anymore|no longer|sober (?:for|since|now)|clean "
    r"(?:for|since|now))\b)(?!.*\b(?:tonight|this weekend|next weekend|tomorrow|again|still)\b)"
)
MEDICAL_EMERGENCY = [
    _rule(
        "urgent_symptom_personal",
        # "I had a heart attack a few years ago" is history, not an emergency now; so are "as a
        # kid", "seizure free for 10 years" and "once in a while" (blind answer rounds 2 and 4)
        r"^(?!.*\b(?:years?|months?|decades?) ago\b|.*\b(?:history of|heart history|last year)\b"
        r"|.*\b(?:back )?in (?:19|20)\d\d\b|.*\bas a (?:kid|child|teen\w*|baby)\b"
        r"|.*\b(?:seizure|symptom|attack)[- ]free\b|.*\b(?:once in a while|from time to time)\b)"
        rf"(?:.*{_PERSONAL}.*\b{_URGENT_SYMPTOM}|.*\b{_URGENT_SYMPTOM}.*{_PERSONAL})",
    ),
]

DOSING = [
    _rule("dose_amount", _DOSE_AMOUNT.pattern),
    _rule("how_many_units", rf"\bhow (?:much|many) (?:of )?(?:{_DOSE_WORD}|ketamine)\b"),
    _rule("in_units", r"\b(?:in|as) (?:mg|ml|mcg|milligrams|mg/kg)\b"),
    _rule(
        "how_much_personal",
        # "will I need" asks what usually happens and is answered; "should I" asks for advice.
        rf"\bhow (?:much|many)\b.{{0,40}}\b(?:should|can|could|do|would|must|may|to)\b"
        rf".{{0,20}}\b{_WHO}\b.{{0,20}}\b(?:take|use|get|have|give|receive|inject|put|"
        rf"schedule|book|start|be on|go|increase|raise|push)\b",
    ),
    _rule(
        "how_far",
        rf"\bhow (?:much |far )?(?:high|higher|more|low|lower|less)\b.{{0,20}}\b(?:can|should|"
        rf"could|may|do)\b.{{0,6}}\b{_WHO}\b",
    ),
    _rule(
        "my_dose_changed",
        r"\bmy (?:\w+ ){0,2}(?:dose|doses|dosage|infusions?|lozenges?|spray)\b.{0,60}\b(?:higher|"
        r"more|increase\w*|raise|up|lower|less|reduce\w*|change|adjust\w*|double|skip|stop|"
        r"not working|isn'?t working|stopped working|wore off|wears off)\b",
    ),
    _rule(
        "what_dose",
        rf"\b(?:what|which)(?:'s| is| are| would be)? (?:\w+ ){{0,3}}(?:{_DOSE_WORD}|rate|"
        rf"regimen|dosing schedule)\b.{{0,60}}(?:\b(?:should|would|could|right|good|best|ok|"
        rf"okay|safe|correct|usual|normal|typical|starting|exact|recommended|suggest|i|my|"
        rf"me|set)\b|\b{_FOR_WHOM}\b)",
    ),
    _rule(
        "dose_qualifier",
        # "the exact dose" asks for a number; "the most exact dose" compares routes (education)
        r"\b(?<!most )(?<!more )(?:exact|specific|right|correct|proper|ideal|best|"
        r"maximum|max|minimum|"
        r"starting|usual|normal|typical|recommended|safe) (?:\w+ )?(?:dose|dosage|amount|"
        r"infusion rate|dosing)\b",
    ),
    _rule(
        "dose_for_someone", rf"\b(?:{_DOSE_WORD}|rate|how much|how many)\b.{{0,25}}\b{_FOR_WHOM}\b"
    ),
    _rule(
        "change_my_medicine",
        # "could ketamine help me cut down on my pain pills?" asks what ketamine does (answer
        # round 8); only a change the asker would make is a dosing question
        rf"^(?!{_HELPS_CUT})"
        rf".*?\b{_CHANGE}\b(?: taking| using| off)?.{{0,25}}\b(?:my|his|her|their|our|the next|"
        rf"the rest of)\b.{{0,25}}\b{_MEDS}\b",
    ),
    _rule(
        "take_more",
        rf"\b(?:can|could|should|may|must|do|shall|would)\b.{{0,12}}\b{_WHO}\b.{{0,20}}\b(?:take|"
        rf"use|have|get|give|inject|ask for|request|go up to)\b.{{0,30}}\b(?:more|extra|another|"
        rf"less|two|three|double|twice|a second|half|{_DOSE_WORD})\b",
    ),
    _rule(
        "ok_for_me",
        rf"\b(?:{_DOSE_WORD}|\d+)\b.{{0,40}}\b(?:ok|okay|safe|fine|too much|too little|enough|"
        rf"right|alright)\b.{{0,10}}\b(?:for (?:me|him|her|us|my \w+)|if i)\b",
    ),
    _rule(
        "how_often_personal",
        # how long one stays at the clinic before leaving is about the visit, not a dose
        r"^(?!.*\b(?:stay|leave|go home|drive home)\b.{0,40}\b(?:clinic|office|infusion "
        r"(?:ends|is over|finishes)|after the infusion)\b)"
        rf".*?\b(?:how often|how frequently|when|how long)\b.{{0,10}}\b(?:should|can|do|must|"
        rf"would)\b.{{0,10}}\b(?:{_WHO}|you)\b.{{0,20}}\b(?:take|use|get|have|stop|start|space|repeat|"
        rf"book|come off|wait|leave|redose|re-dose)\b",
    ),
    _rule(
        "between_my_doses",
        r"^(?=.*\b(?:i|my|me)\b).*\bbetween (?:my |each |the |two )?(?:doses|infusions|lozenges|"
        r"sprays|tablets|treatments)\b",
    ),
    _rule(
        "personal_frequency",
        r"^(?=.*\b(?:i|my|me|he|she)\b).*\b(?:every \d+ (?:hours?|days?)|"
        r"(?:\d+|two|three|four|several|many) times (?:a day|a week|per day|per week|today|"
        r"tonight|daily|in a row|in a day)|(?:once|twice) (?:a|per) (?:day|week)|twice (?:today|"
        r"tonight|in a row))\b",
    ),
    _rule(
        "give_to_someone",
        r"\b(?:give|share|lend|let)\b.{0,30}\b(?:my|some of my)\b.{0,20}\b(?:ketamine|"
        r"lozenges?|tablets?|pills?|spray|meds|medications?|dose)\b",
    ),
    _rule(
        "someone_uses_mine",
        rf"\b(?:my|his|her|our) {_PEOPLE} (?:\w+ ){{0,3}}(?:use|take|have|try|borrow|finish)\b"
        rf".{{0,25}}"
        rf"\b(?:my|mine|some of my|leftover|the rest of)\b|\b(?:use|take|borrow|finish) "
        rf"(?:my|someone else'?s|another person'?s|(?:my|his|her) {_PEOPLE}) (?:leftover )?"
        rf"(?:ketamine|lozenges?|tablets?|spray|prescription|meds|medication)\b",
    ),
    _rule(
        "prescribe_me",
        rf"\b(?:prescribe|recommend|suggest|tell me|give me|output|list|write (?:me )?|"
        rf"what would you)\b.{{0,40}}\b(?:{_DOSE_WORD}|dosing schedule|schedule|regimen|"
        rf"infusion rate)\b",
    ),
    _rule(
        "body_weight",
        r"^(?=.*\b(?:dose|dosage|how much|how many|amount|mg|ketamine)\b)"
        r".*\b\d+(?:\.\d+)? ?(?:kg|kgs|kilos?|lbs?|pounds)\b",
    ),
    _rule(
        "timing_own",
        r"\b(?:should|can|could|do)\b.{0,6}\b(?:i|we|he|she|they)\b.{0,6}\b(?:take|use|have)\b"
        r".{0,40}\b(?:before|after|together with|at the same time as|on top of|alongside)\b"
        r".{0,10}\bmy\b",
    ),
    _rule(
        "with_my_medicine",
        rf"\b(?:take|use|have|mix|combine)\b.{{0,30}}\bwith (?:my|his|her) (?:\w+ ){{0,2}}"
        rf"(?:{_MEDS}|{_DRUG_NAMES})\b",
    ),
    _rule("redose", r"\bre-?dos\w*|\btop(?:ping)? up\b.{0,20}\b(?:dose|ketamine)\b"),
    _rule(
        "start_stop_own",
        # only about a medicine: "do I change a flat tire" is not a dosing question
        rf"^(?=.*\b(?:{_MEDS}|{_DRUG_NAMES})\b)"
        # not "they": "why do they adjust the rate?" asks what clinicians do
        r".*\b(?:should|can|could|do|must)\b.{0,6}\b(?:i|we|he|she)\b.{0,6}\b(?:start|stop|"
        r"quit|come off|go off|keep taking|continue taking|combine|mix|wean|taper|cut down|"
        r"reduce|lower|increase|double|skip|change|adjust|space out)\b",
    ),
]

ILLICIT = [
    _rule(
        "no_prescription",
        r"\bwithout (?:seeing |asking |a |an |any )*(?:prescription|script|doctor|rx|anyone|"
        r"anybody|a clinic|clinic|medical)\w*\b|\bno prescription\b",
    ),
    _rule(
        "buy_outside_care",
        r"\b(?:buy|purchase|order|score|cop|get|source|find)\b.{0,40}\b(?:online|dark ?web|"
        r"street|dealer|plug|off (?:someone|a friend|my friend|a guy|a coworker)|from a friend|"
        r"for a party|at a party)\b",
    ),
    _rule("dark_web", r"\bdark ?web\b|\bdarknet\b"),
    _rule(
        "recreational",
        # "used ketamine recreationally back in college" is history (eligibility), and "wasn't
        # it a party drug?" asks about its past: neither is a request. Nor is "used to party
        # with ket in my 20s (not anymore)", unless the message also looks ahead (round 20).
        rf"^(?!{_PAST_USE})"
        r".*?(?:\bfor fun\b|(?<!used )(?<!used it )(?<!used ketamine )\brecreation\w*|"
        # a party as where or how it would be used, not any party ("set a party on fire when
        # I'm DJing" is XSTest's homonym)
        r"\bget(?:ting)? high\b|\b(?:at|for|to|before|after|during|from) (?:a|the|this|that|"
        r"my|our|his|her|their|tonight'?s|next) (?:\w+ )?party\b|"
        r"\bparty(?:ing)? (?:with|on (?:k|ket|it)\b|tonight|this weekend)\b|\bpartying\b|"
        r"\bfestival\b|\brave\b|"
        r"\bk[- ]?hole\b|\bsnort\w*|\btrip(?:ping)? on\b)",
    ),
    _rule(
        "make_it",
        r"\b(?:make|cook|synthesi[sz]e|extract|brew|produce)\b.{0,20}\bketamine\b|"
        r"\bketamine\b.{0,30}\b(?:vet'?s?|veterinary) (?:supplies|clinic|stock)\b|"
        r"\b(?:vet'?s?|veterinary) (?:supplies|stock)\b",
    ),
    _rule(
        "hide_from_tests",
        r"\b(?:pass|beat|cheat|fool|hide\b.{0,30})\b.{0,20}\bdrug tests?\b|\bout of my system\b|"
        r"\bhide\b.{0,30}\b(?:use|using)\b",
    ),
]

ROLE_OR_REVEAL = [
    _rule(
        "reveal_instructions",
        r"\b(?:reveal|show|print|repeat|display|tell me|what are|output|leak|dump)\b.{0,30}"
        r"\b(?:system prompt|prompt|instructions|hidden rules|your rules|rules you follow|"
        r"everything above|above this line|configuration)\b",
    ),
    _rule(
        "change_role",
        r"\byou are now\b|\bact as\b|\bpretend (?:to be|you(?:'re| are))\b|\broleplay as\b|"
        r"\bjailbreak\w*|\bdeveloper mode\b|\bno restrictions\b|"
        r"\byou'?re (?:a|an|my) \w+(?: \w+)? now\b|"
        # "DAN" the jailbreak, never the Spanish "me dan ketamina" / "se dan cuenta"
        r"\b(?:dan mode|you are dan|act as dan|do anything now)\b",
    ),
]

DOMAIN = re.compile(
    # stems may sit inside a word ("subanesthetic", "esketamine", "polyneuropathy")
    r"\b\w*(?:ketamin|anesthe|anaesthe|analges|neuro|neuralg|dissociat|hallucinat|opioid)\w*|"
    r"\b(?:pain\w*|nerves?|nervous|infusions?|dos\w+|"
    r"treatments?|therap\w*|medic\w*|side effects?|crps|nmda|nsaids?|"
    r"fibromyalgia|clinic\w*|doctors?|symptoms?|drugs?|depress\w*|"
    r"blood pressure|heart|brain|chronic|relief|receptors?|glutamate|diabet\w*|shingles|"
    r"numb\w*|tingl\w*|burning|sciatica|migraines?|arthritis|lozenges?|tablets?|spray|iv|"
    r"injection|hallucinat\w*|dissociat\w*|addict\w*|toleran\w*|fda|insurance|health\w*|"
    r"patients?|nurse|hospital|disease|condition|pregnan\w*|psychosis|sedation|nausea)\b"
)


@cache
def _data_items() -> tuple[dict, ...]:
    path = resources.files("ketabot.safety").joinpath("data", "rules.yaml")
    return tuple(yaml.safe_load(path.read_text(encoding="utf-8")))


def data_rules(group: str, *, precedes_dosing: bool | None = None) -> list[Rule]:
    """The rules of ``group`` kept in ``safety/data/rules.yaml``, with their examples.

    ``precedes_dosing`` keeps only the rules marked (True) or not marked (False) so.
    """
    return [
        Rule(
            item["name"],
            re.compile(item["pattern"], re.IGNORECASE),
            tuple(item["examples"]),
            tuple(item["counterexamples"]),
        )
        for item in _data_items()
        if item["group"] == group and precedes_dosing in (None, item.get("precedes_dosing", False))
    ]


# The groups a rule in rules.yaml may name; each extends the list the triage already checks.
DATA_GROUPS = {
    "self_harm": SELF_HARM,
    "medical_emergency": MEDICAL_EMERGENCY,
    "dosing_advice": DOSING,
    "illicit_use": ILLICIT,
}
for _group, _rules in DATA_GROUPS.items():
    _rules += data_rules(_group, precedes_dosing=False)
# Selling, forging, faking or hiding (illicit rules marked precedes_dosing) are checked before
# the generic dosing rules: "how much could I get for my extra lozenges?" is not a dosing
# question. Giving one's medicine to someone stays after them: "can I give my husband some
# for his back?" is a dosing question.
ILLICIT_SPECIFIC = data_rules("illicit_use", precedes_dosing=True)
