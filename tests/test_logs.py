"""Log lines as text or JSON, and the HTTP layers kept quiet."""

import json
import logging

from ketabot.logs import JsonLines, configure


def test_json_lines_hold_the_message_and_only_an_exceptions_type():
    record = logging.LogRecord(
        "ketabot", logging.ERROR, __file__, 1, "reply kind=%s", ("answer",), None
    )
    entry = json.loads(JsonLines().format(record))
    assert entry["message"] == "reply kind=answer" and entry["level"] == "error"
    try:
        raise ValueError("a patient's words would be here")
    except ValueError:
        import sys

        failed = logging.LogRecord(
            "ketabot", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = JsonLines().format(failed)
    assert json.loads(line)["exception"] == "ValueError"
    assert "patient" not in line


def test_configure_replaces_only_its_own_handler_and_quiets_the_access_log():
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    try:
        configure(logging.INFO, "json")
        configure(logging.INFO, "text")
        ours = [h for h in root.handlers if h.get_name() == "ketabot"]
        assert len(ours) == 1 and not isinstance(ours[0].formatter, JsonLines)
        assert foreign in root.handlers
        assert logging.getLogger("uvicorn.access").level == logging.WARNING
    finally:
        root.removeHandler(foreign)
        for handler in [h for h in root.handlers if h.get_name() == "ketabot"]:
            root.removeHandler(handler)
