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
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from ketabot.bot import Bot
from ketabot.config import Settings, config_path
from ketabot.errors import ServeError
from ketabot.gaps import gap_recorder
from ketabot.metrics import Metrics
from ketabot.replies import page_words
from ketabot.web import ops
from ketabot.web.api import PREFIX, create_api
from ketabot.web.app import create_app, urgent_json
from ketabot.web.calls import Endpoints
from ketabot.web.guard import Guard, cors
from ketabot.web.lanes import Lanes
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
    metrics = Metrics()
    bot.observers.append(metrics)
    bot.observers.append(gap_recorder(settings))
    app = create_app(bot, settings)
    url = launch(app, settings, bot, metrics)
    bot.warm_suggestions()
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


def launch(app: gr.Blocks, settings: Settings, bot: Bot, metrics: Metrics) -> str:
    """Serve the page, the JSON API and the operations routes; returns the URL, does not block.

    The health-page defaults: no analytics, no monitoring page, no run history, no share
    links, no uploads, a bounded queue, and the guard (:mod:`ketabot.web.guard`) in front.
    """
    app.queue(default_concurrency_limit=settings.web.concurrency, max_size=settings.web.queue_size)
    lanes = Lanes(settings)
    metrics.watch_waiting("api", lanes.waiting)
    # Given when the server app is made, so they answer from its first request, ahead of
    # Gradio's own routes (none of which may answer for the API's paths).
    routes = [
        Mount(PREFIX, app=create_api(bot, settings, metrics, lanes)),
        *ops.routes(bot, metrics),
        *_web_component_script(),
    ]
    guard = Middleware(
        Guard,
        settings=settings,
        endpoints=Endpoints.of(app),
        urgent=partial(urgent_json, bot),
        metrics=metrics,
    )
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
        # Starlette builds its middleware when the app is created, so the guard goes in here;
        # CORS outside it, so a browser can read the guard's refusals too.
        app_kwargs={"middleware": [cors(settings), guard], "routes": routes},
    )
    _without_gradio_cors(server)
    return str(url)


def _without_gradio_cors(server: Any) -> None:
    """Leave cross-origin rules to ours (:func:`~ketabot.web.guard.cors`) alone.

    Gradio adds its own CORS middleware outside the app's, and it answers every preflight
    itself and lets any site in once the server has a public host name. Starlette builds
    the middleware stack on the first request; set to ``None`` it is built again, without.
    """
    kept = [m for m in server.user_middleware if m.cls.__name__ != "CustomCORSMiddleware"]
    if len(kept) != len(server.user_middleware):
        server.user_middleware = kept
        server.middleware_stack = None


def _web_component_script() -> list[Route]:
    """``/gradio.js``: the script behind ``<gradio-app>``, from this server, not a CDN.

    Gradio ships it with its front end but serves only the hashed asset it loads; a
    stable address lets a clinic's page embed the chat without a third-party script
    (which would also tell that party about every patient's visit).
    """
    script = Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js"
    if not script.is_file():
        log.warning("Gradio's web-component script is missing; use the <iframe> embed")
        return []
    body = script.read_bytes()

    async def gradio_js(request: Request) -> Response:
        return Response(body, media_type="text/javascript")

    return [Route("/gradio.js", gradio_js, methods=["GET"])]


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
        "health": ops.HEALTH.lstrip("/"),
        "offline_html": f"<p><strong>{lines[0]}</strong> {' '.join(lines[1:])}</p>",
    }
