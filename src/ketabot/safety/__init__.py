"""Safety: what may be asked and what may be said, decided before anything is retrieved.

For a clinical safety reviewer this package is the whole policy:

- ``normalize``: the matching copy of a question every rule reads;
- ``rules``: the named rules (emergency, dosing, illicit, role) and the output rules
  (no dose amount and nothing addressed to a chatbot is ever quoted);
- ``triage``: rules and labelled exemplars combined into one verdict, in policy order;
- ``data/``: the labelled exemplar phrasings.
"""

from ketabot.safety.normalize import normalize
from ketabot.safety.rules import is_instruction, states_dose
from ketabot.safety.triage import Signals, Triage, decide

__all__ = ["Signals", "Triage", "decide", "is_instruction", "normalize", "states_dose"]
