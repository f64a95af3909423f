"""``python app.py`` / ``ketabot serve``: load once, then serve the chat page."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from collections.abc import Sequence

from ketabot.config import load_settings
from ketabot.errors import KetabotError


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``--host``/``--port``, load the model and index once, serve until stopped."""
    parser = argparse.ArgumentParser(prog="app.py", description="Serve the ketabot chat page.")
    parser.add_argument("--host", help="address to listen on (KETABOT_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (KETABOT_PORT, default 7860)")
    parser.add_argument("--config", help="clinic config file (KETABOT_CONFIG, ./ketabot.toml)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Gradio's HTTP client and uvicorn would log every request (with the client's address).
    for noisy in ("httpx", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    started = time.perf_counter()
    try:
        settings = load_settings(**overrides)
        from ketabot.cli import open_bot
        from ketabot.web import create_app, launch

        bot = open_bot(settings)
        bot.ask("How does ketamine work for nerve pain?")  # warm every path once, before patients
        app = create_app(bot, settings)
        url = launch(app, settings)
    except KetabotError as exc:
        print(f"ketabot: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    print(f"ketabot is ready at {url} ({seconds:.1f} s after start)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        app.block_thread()
    return 0
