"""The README's screenshots of the chat page, taken from this checkout.

English and Spanish, light and dark, desktop and phone: 8 PNGs in docs/screenshots/.

    .venv/bin/python docs/screenshots.py        # or: make screenshots

Serves the page twice from this checkout (a clinic configured in English, one in
Spanish) on free loopback ports, with the real model and corpus, and drives Debian's
Chromium through Playwright. Each picture shows an answer with its first source open.
Nothing is downloaded; the index is built in a temporary folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("KETABOT_CHROMIUM", "/usr/bin/chromium")
CLINIC = """
[clinic]
name = "Example Pain Clinic"
phone = "+1 555 0100"
website = "https://www.clinic.example/pain"
language = "{language}"
page_title = "{title}"
example_questions = {examples}
"""
LANGUAGES = {
    "en": {
        "title": "Ask Example Pain Clinic about ketamine",
        "examples": ["How does ketamine work for nerve pain?", "Is ketamine addictive?"],
        "question": "How does ketamine work for nerve pain?",
    },
    "es": {
        "title": "Pregunte a Example Pain Clinic sobre la ketamina",
        "examples": ["¿La ketamina es adictiva?", "¿Qué efectos secundarios tiene?"],
        "question": "¿La ketamina es adictiva?",
    },
}
DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 375, "height": 812}, "is_mobile": True},
}


def main() -> None:
    """Serve each language, photograph each scheme and device."""
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for language, page_text in LANGUAGES.items():
            with serving(Path(tmp) / language, language, page_text) as url:
                for scheme in ("light", "dark"):
                    for device, options in DEVICES.items():
                        name = OUT / f"{language}-{scheme}-{device}.png"
                        shoot(browser, url, page_text["question"], scheme, options, name)
                        print(f"wrote {name.relative_to(ROOT)}")
        browser.close()


def shoot(browser, url: str, question: str, scheme: str, options: dict, path: Path) -> None:
    """One picture: the page after ``question`` is answered, its first source open."""
    context = browser.new_context(color_scheme=scheme, **options)
    page = context.new_page()
    page.goto(url)
    box = page.locator("#kb-question textarea")
    box.wait_for(timeout=60_000)
    box.fill(question)
    box.press("Enter")
    page.locator(".kb-reply").first.wait_for(timeout=60_000)
    sources = page.locator("details.kb-source summary")
    if sources.count():
        sources.first.click()
    page.wait_for_timeout(800)  # the chat's fade-in
    page.screenshot(path=str(path), full_page=True)
    context.close()


@contextmanager
def serving(folder: Path, language: str, page_text: dict) -> Iterator[str]:
    """`python app.py` for a clinic in ``language``, on a free loopback port; yields its URL."""
    folder.mkdir(parents=True)
    config = folder / "ketabot.toml"
    examples = "[" + ", ".join(f'"{q}"' for q in page_text["examples"]) + "]"
    config.write_text(
        CLINIC.format(language=language, title=page_text["title"], examples=examples),
        encoding="utf-8",
    )
    port = _free_port()
    env = {
        **os.environ,
        "KETABOT_HOME": str(folder / "home"),
        "KETABOT_CORPUS": str(ROOT / "corpus"),
        "HF_HUB_OFFLINE": "1",
    }
    command = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--config", str(config)]
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait(url: str, process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped (exit {process.returncode})")
        try:
            urllib.request.urlopen(url + "healthz", timeout=2).read()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server did not start in time")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    main()
