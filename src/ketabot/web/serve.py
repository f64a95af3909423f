"""Serving the chat page: the one way it starts, for ``ketabot serve`` and ``python app.py``.

:func:`serve` loads the model and the index once, warms every path, and
serves with the privacy and exposure defaults a health page needs: no
analytics, no monitoring page, no browser-side run history, no share links,
no uploads, a bounded queue.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import socket
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware
from starlette.responses import Response

from ketabot.bot import Bot
from ketabot.config import Settings, config_path
from ketabot.errors import ServeError
from ketabot.replies import page_words
from ketabot.web.app import create_app, urgent_json
from ketabot.web.calls import Endpoints
from ketabot.web.guard import Guard, Urgent
from ketabot.web.render import tel_link

log = logging.getLogger("ketabot")

STATIC = Path(__file__).parent / "static"
CSS = (STATIC / "ketabot.css").read_text(encoding="utf-8")
# System fonts only: the default theme would make every patient's browser fetch fonts from
# a third party, which leaks their visit and fails offline.
# Soft's primary buttons and field labels fall short of WCAG AA contrast (4.46:1 and 3.62:1,
# axe-core); one shade darker meets it, in light and dark.
THEME = gr.themes.Soft(
    font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
).set(
    button_primary_background_fill="*primary_700",
    button_primary_background_fill_hover="*primary_800",
    button_primary_background_fill_dark="*primary_700",
    button_primary_background_fill_hover_dark="*primary_800",
    block_label_text_color="*primary_800",
    block_title_text_color="*primary_800",
    block_label_background_fill_dark="*primary_800",
    body_text_color_subdued="*neutral_600",
    body_text_color_subdued_dark="*neutral_300",
)
WARM_UP = "How does ketamine work for nerve pain?"
# The process is alive: for load balancers, and for the page to tell "offline" from "slow".
HEALTH = "/healthz"
# The page's own behaviour (counter, [n] links, labels, offline notice); its words come
# from ``window.kbWords``, set in the page head in the clinic's language.
PAGE_SCRIPT = (STATIC / "ketabot.js").read_text(encoding="utf-8")


def serve(settings: Settings, say: Callable[[str], None] = print) -> None:
    """Load once, warm up, serve until interrupted."""
    started = time.perf_counter()
    check_address(settings.web.host, settings.web.port)  # before seconds of loading, not after
    chosen = config_path(settings.config)
    say(f"Clinic settings from {chosen}" if chosen else "No clinic config file: the defaults")
    bot = Bot.ready(settings, say=say)
    bot.ask(WARM_UP)  # every path once, before the first patient
    app = create_app(bot, settings)
    url = launch(app, settings, urgent=partial(urgent_json, bot))
    say(f"ketabot is ready at {url} ({time.perf_counter() - started:.1f} s after start)")
    with contextlib.suppress(KeyboardInterrupt):
        app.block_thread()


def check_address(host: str, port: int) -> None:
    """Raise :class:`ServeError` unless this process could listen on ``host:port`` now."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise ServeError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


def launch(app: gr.Blocks, settings: Settings, urgent: Urgent | None = None) -> str:
    """Start serving the page with the health-page defaults; returns its URL, does not block.

    ``urgent`` answers an API emergency that arrives while the API is at its bound.
    """
    app.queue(default_concurrency_limit=settings.web.concurrency, max_size=settings.web.queue_size)
    guard = Middleware(Guard, settings=settings, endpoints=Endpoints.of(app), urgent=urgent)
    server, url, _ = app.launch(
        server_name=settings.web.host,
        server_port=settings.web.port,
        root_path=settings.web.root_path or None,
        share=False,
        show_error=False,
        enable_monitoring=False,
        run_history=False,
        mcp_server=False,
        pwa=False,
        ssr_mode=False,
        max_file_size="1kb",
        footer_links=["api"],
        prevent_thread_lock=True,
        quiet=True,
        theme=THEME,
        css=CSS,
        head=_head(settings),
        # Starlette builds its middleware when the app is created, so the guard goes in here.
        app_kwargs={"middleware": [guard]},
    )
    _serve_web_component_script(server)
    server.add_api_route(HEALTH, _alive, methods=["GET"], include_in_schema=False)
    return str(url)


async def _alive() -> Response:
    return Response(
        '{"status":"ok"}', media_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _serve_web_component_script(server: Any) -> None:
    """``/gradio.js``: the script behind ``<gradio-app>``, from this server, not a CDN.

    Gradio ships it with its front end but serves only the hashed asset it loads; a
    stable address lets a clinic's page embed the chat without a third-party script
    (which would also tell that party about every patient's visit).
    """
    script = Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js"
    if not script.is_file():
        log.warning("Gradio's web-component script is missing; use the <iframe> embed")
        return
    body = script.read_bytes()

    async def gradio_js() -> Response:
        return Response(body, media_type="text/javascript")

    server.add_api_route("/gradio.js", gradio_js, methods=["GET"], include_in_schema=False)


def _head(settings: Settings) -> str:
    lang = html.escape(settings.clinic.language, quote=True)
    words = json.dumps(_script_words(settings)).replace("</", "<\\/")
    return (
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<script>window.kbLang = {lang!r}; window.kbWords = {words};</script>"
        f"<script>{PAGE_SCRIPT}</script>"
    )


def _script_words(settings: Settings) -> dict[str, str]:
    """The words the page script shows, and its offline notice as HTML built here, escaped."""
    words = page_words(settings.clinic.language)
    clinic = settings.clinic
    lines = [
        html.escape(words["offline"]),
        html.escape(words["offline_emergency"]).format(number=tel_link(clinic.emergency_number)),
    ]
    if clinic.phone:
        lines.append(html.escape(words["offline_contact"]).format(phone=tel_link(clinic.phone)))
    keys = ("count_near", "count_over", "helpful", "not_helpful", "reply_name", "question_name")
    return {
        **{key: words[key] for key in keys},
        "health": HEALTH.lstrip("/"),
        "offline_html": f"<p><strong>{lines[0]}</strong> {' '.join(lines[1:])}</p>",
    }
