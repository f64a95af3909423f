"""ketabot: patient education about ketamine for nerve pain, quoted only from its sources.

    from ketabot import Bot
    reply = Bot().ask("How does ketamine work for nerve pain?")
    print(reply.text)

The heavy parts (PyTorch, Chroma) load only when ``Bot`` is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ketabot import offline  # noqa: F401  (must run before any library is imported)
from ketabot.config import Settings, load_settings
from ketabot.types import Citation, Disclaimer, Kind, Reply, Verdict

if TYPE_CHECKING:
    from ketabot.bot import Bot

__all__ = ["Bot", "Citation", "Disclaimer", "Kind", "Reply", "Settings", "Verdict", "load_settings"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Bot":
        from ketabot.bot import Bot

        return Bot
    raise AttributeError(name)
