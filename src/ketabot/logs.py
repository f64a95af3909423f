"""How ketabot's processes log: one line per event, as text or as JSON (``log_format``).

Nothing that identifies a patient is ever logged, in either format: ketabot's own lines
name a reply's shape (kind, reason, count, milliseconds) or an exception's type, and the
loggers of the HTTP layers that would print client addresses are kept quiet.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# uvicorn's access log prints every client's address; httpx every URL Gradio fetches.
QUIET = ("httpx", "uvicorn.access", "uvicorn.error")
_HANDLER = "ketabot"


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and an exception's type)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON; a traceback is reduced to its exception's type."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def configure(level: int, log_format: str = "text") -> None:
    """Set up the root logger once for a command; ``log_format`` is "text" or "json"."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.set_name(_HANDLER)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)  # only ketabot's own: a host program's handlers stay
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
