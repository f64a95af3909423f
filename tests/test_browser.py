"""The chat page in real headless Chromium, as a patient (often on a phone) uses it."""

import contextlib
import functools
import http.server
import json
import os
import re
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT = 30_000


@pytest.fixture
def page(chromium, browser, server):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.outside = []
    page.on(
        "request",
        lambda r: (
            page.outside.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            else None
        ),
    )
    page.goto(server.url)
    page.wait_for_selector("#kb-question textarea", timeout=TIMEOUT)
    yield page
    context.close()


def ask(page, question, selector=".kb-reply"):
    before = page.locator(selector).count()
    box = page.locator("#kb-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        f"document.querySelectorAll({json.dumps(selector)}).length > {before}", timeout=TIMEOUT
    )
    return page.locator(selector).last


def test_an_answer_with_citations_sources_and_the_disclaimer(page):
    reply = ask(page, "How does ketamine work for nerve pain?")
    assert "[1]" in reply.inner_text()
    assert "NMDA" in reply.inner_text()
    source = reply.locator("details.kb-source").first
    assert source.locator("blockquote").is_hidden()
    source.locator("summary").click()
    assert source.locator("blockquote").is_visible()
    assert source.locator("mark").inner_text() in source.locator("blockquote").inner_text()
    second = reply.locator("details.kb-source").nth(1)
    assert second.locator("blockquote").is_hidden()
    reply.locator("a.kb-cite", has_text="[2]").first.click()
    assert second.locator("blockquote").is_visible(), "[2] opens the second source"
    assert "not medical advice" in reply.locator(".kb-disclaimer").inner_text()
    assert page.locator(".kb-notice").is_visible()
    assert "In an emergency call 112 now" in page.locator(".kb-notice").inner_text()
    assert page.outside == [], "the page must not contact any third party"


def test_the_page_remembers_the_conversation_for_a_follow_up(page):
    ask(page, "What side effects can ketamine cause?")
    reply = ask(page, "what about for my heart?")
    assert "kb-answer" in reply.get_attribute("class")
    assert "blood pressure" in reply.inner_text(), "answered in the light of the first question"


def test_a_dosing_question_shows_the_refusal(page):
    reply = ask(page, "How much ketamine should I take for my CRPS?", ".kb-refusal")
    text = reply.inner_text()
    assert "can't give dosing advice" in text and "+1 555 0100" in text
    assert "not medical advice" in text


def test_an_emergency_is_pinned_first_and_in_view(page):
    page.set_viewport_size({"width": 375, "height": 740})
    ask(page, "I have crushing chest pain right now", ".kb-emergency")
    alert = page.locator("#kb-alert .kb-alert")
    alert.wait_for(timeout=TIMEOUT)
    assert alert.inner_text().startswith("This may be a medical emergency. Call 112 now")
    page.wait_for_function(
        "(() => { const r = document.querySelector('#kb-alert .kb-alert').getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight; })()",
        timeout=TIMEOUT,
    )


def test_numbers_to_call_are_tappable(page):
    assert page.locator(".kb-notice a[href='tel:112']").is_visible()
    contact = page.locator(".kb-contact")
    assert contact.locator("a[href='tel:+15550100']").is_visible()
    assert contact.locator("a[href='https://www.clinic.example/pain']").inner_text() == (
        "www.clinic.example"
    )
    reply = ask(page, "I want to kill myself", ".kb-emergency")
    assert reply.locator("a[href='tel:116123']").count() >= 1
    assert page.locator("#kb-alert a[href='tel:112']").count() == 1


def test_the_patients_markup_is_shown_as_text(page):
    typed = "<b>bold</b> **stars** <img src=/kb-x> [link](http://127.0.0.1/x) side effects?"
    ask(page, typed)
    mine = page.locator("#kb-chat .kb-asked").last
    assert mine.inner_text() == typed
    assert mine.locator("b, img, a, strong").count() == 0


def test_a_long_question_is_counted_then_answered_as_too_long_not_cut(page):
    box = page.locator("#kb-question textarea")
    box.fill("Is ketamine safe? " * 60)
    box.press("End")
    box.type(" x")  # an input event, as a person typing
    counter = page.locator("#kb-count")
    assert "Too long" in counter.inner_text() and "of 1000 characters" in counter.inner_text()
    box.press("Enter")
    page.locator(".kb-error").last.wait_for(timeout=TIMEOUT)
    assert "too long" in page.locator(".kb-error").last.inner_text()
    assert page.locator("#kb-chat .kb-asked").last.inner_text().endswith("safe?  x")
    assert counter.inner_text() == "", "the counter resets with the reply"


def test_a_question_offered_under_a_reply_is_asked_when_tapped(page):
    ask(page, "Write me a poem about the sea", ".kb-out_of_scope")
    offered = page.locator("#kb-chat button", has_text="Is ketamine addictive?").last
    offered.wait_for(timeout=TIMEOUT)
    before = page.locator(".kb-answer").count()
    offered.click()
    page.wait_for_function(
        f"document.querySelectorAll('.kb-answer').length > {before}", timeout=TIMEOUT
    )
    assert page.locator("#kb-chat .kb-asked").last.inner_text() == "Is ketamine addictive?"


def test_title_language_and_keyboard_use(page):
    assert page.title() == "Ask Example Pain Clinic about ketamine"
    assert page.evaluate("document.documentElement.lang") == "en"
    page.locator("#kb-question textarea").focus()
    page.keyboard.type("Is ketamine addictive?")
    page.keyboard.press("Enter")
    page.wait_for_selector(".kb-reply", timeout=TIMEOUT)
    summary = page.locator("details.kb-source summary").first
    summary.focus()
    page.keyboard.press("Enter")
    assert page.locator("details.kb-source").first.get_attribute("open") is not None


def test_readable_on_a_375_px_phone(chromium, browser, server):
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector("#kb-question textarea", timeout=TIMEOUT)
    in_view = (
        "(selector) => { const r = document.querySelector(selector).getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; }"
    )
    assert page.evaluate(in_view, ".kb-notice"), "the emergency notice is in view on load"
    assert page.evaluate(in_view, ".kb-header h1")
    assert page.evaluate(in_view, "#kb-question textarea"), "so is the question box"
    assert page.evaluate(in_view, "#kb-examples button"), "and the example questions"
    ask(page, "What side effects can ketamine cause?")
    chat = "document.querySelector('#kb-chat').getBoundingClientRect().height"
    assert page.evaluate(chat) > 0.5 * 812, "once asked, the chat takes its full height"
    ask(page, "How much ketamine should I take for my CRPS?", ".kb-refusal")
    page.wait_for_function(  # shown from its first line, which says why, not from its end
        "(() => { const r = document.querySelector('.kb-refusal').getBoundingClientRect();"
        " const chat = document.querySelector('#kb-chat').getBoundingClientRect();"
        " return r.top >= Math.max(0, chat.top) - 1 && r.top < window.innerHeight - 40; })()",
        timeout=TIMEOUT,
    )
    page.locator("details.kb-source summary").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    size = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('.kb-reply p')).fontSize)"
    )
    assert size >= 15
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone-375.png"), full_page=True)
    assert (ARTIFACTS / "phone-375.png").stat().st_size > 10_000
    context.close()


DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True},
}


SETTLED = """() => !document.querySelector('.pending, .generating, .translucent:not(.hide)')
  && [...document.querySelectorAll('#kb-alert, #kb-chat, .kb-reply')].every((el) => {
    for (let at = el; at; at = at.parentElement) {
      if (getComputedStyle(at).opacity !== '1') { return false; }
    }
    return true;
  })"""


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page once settled, one line each.

    Gradio fades the outputs of a running event; a colour measured mid-fade is not the
    page's colour, so the check waits for every reply to be fully shown.
    """
    from axe_playwright_python.sync_playwright import Axe

    for _ in range(2):  # settled, and still settled a moment later (the steps that follow)
        page.wait_for_function(SETTLED, timeout=TIMEOUT)
        page.wait_for_timeout(300)

    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} {node['target']}: {(node.get('any') or [{}])[0].get('message', '')}"
        for v in found
        if v["impact"] in ("serious", "critical")
        for node in v["nodes"]
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", DEVICES)
def test_no_serious_accessibility_violation_in_any_state(browser, server, device, scheme):
    context = browser.new_context(color_scheme=scheme, **DEVICES[device])
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector("#kb-question textarea", timeout=TIMEOUT)
    assert page.evaluate("document.body.classList.contains('dark')") == (scheme == "dark")
    found = {"empty page": serious_violations(page)}
    reply = ask(page, "How does ketamine work for nerve pain?")
    reply.locator("details.kb-source summary").first.click()
    found["answer with a source open"] = serious_violations(page)
    ask(page, "How much ketamine should I take for my CRPS?", ".kb-refusal")
    found["refusal"] = serious_violations(page)
    ask(page, "I have crushing chest pain right now", ".kb-emergency")
    found["emergency"] = serious_violations(page)
    page.locator("button[data-kb-rate=up]").first.click()
    page.locator("#kb-feedback-status", has_text="Thank you").wait_for(timeout=TIMEOUT)
    found["after a rating"] = serious_violations(page)
    context.close()
    assert {state: lines for state, lines in found.items() if lines} == {}


def test_every_control_shows_where_the_keyboard_is(page):
    ask(page, "How does ketamine work for nerve pain?")
    ring = (
        "(el) => { const s = getComputedStyle(el);"
        " return s.outlineStyle === 'solid' && parseFloat(s.outlineWidth) >= 2; }"
    )
    controls = [
        "#kb-question textarea",
        "#kb-send",
        "details.kb-source summary",
        "a.kb-cite",
        "button[data-kb-rate=up]",
        ".kb-contact a",
    ]
    for selector in controls:
        control = page.locator(selector).first
        control.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # focus by keyboard, as :focus-visible requires
        assert control.evaluate("(el) => el === document.activeElement"), selector
        assert control.evaluate(ring), f"{selector} shows no focus ring"


def test_messages_are_named_by_their_words_not_their_markup(page):
    ask(page, "Is ketamine addictive?")
    names = page.locator("#kb-chat [aria-label]").evaluate_all(
        "(els) => els.map((el) => el.getAttribute('aria-label'))"
    )
    replies = [n for n in names if n.startswith("ketabot's reply: ")]
    assert replies and "Your question: Is ketamine addictive?" in names
    assert not [n for n in names if "<" in n or "message:" in n]


def test_rating_buttons_are_labelled_thumb_sized_and_thanked_beside_the_reply(browser, server):
    context = browser.new_context(**DEVICES["phone"])
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector("#kb-question textarea", timeout=TIMEOUT)
    ask(page, "Can ketamine cause hallucinations?")
    up, down = page.locator("button[data-kb-rate=up]"), page.locator("button[data-kb-rate=down]")
    assert up.get_attribute("aria-label") == "Helpful" and "Helpful" in up.inner_text() + (
        up.evaluate("(el) => getComputedStyle(el, '::after').content")
    )
    first, second = up.bounding_box(), down.bounding_box()
    assert min(first["width"], first["height"], second["width"], second["height"]) >= 44
    assert first["x"] < second["x"], "helpful comes first"
    up.tap()
    status = page.locator("#kb-feedback-status", has_text="Thank you for the feedback")
    status.wait_for(timeout=TIMEOUT)
    page.wait_for_function(
        "(() => { const r = document.querySelector('#kb-feedback').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; })()",
        timeout=TIMEOUT,
    )
    context.close()


def test_sources_show_publisher_and_date_and_their_lists(page):
    reply = ask(page, "What are the benefits of ketamine for nerve pain?")
    for summary in reply.locator("details.kb-source summary").all():
        summary.click()
    meta = reply.locator(".kb-source-meta", has_text="Mind Body Centers").first
    assert "Mind Body Centers · 2024-03-22" in meta.inner_text() and meta.is_visible()
    listed = reply.locator("details.kb-source blockquote ul li")
    assert listed.count() >= 2 and listed.first.is_visible()
    assert not [t for t in listed.all_inner_texts() if t.startswith("- ")]


def test_when_the_server_cannot_be_reached_the_numbers_to_call_are_shown(browser, server):
    context = browser.new_context(**DEVICES["phone"])
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector("#kb-question textarea", timeout=TIMEOUT)
    context.set_offline(True)
    notice = page.locator("#kb-offline")
    notice.wait_for(timeout=TIMEOUT)
    assert notice.locator("a[href='tel:112']").is_visible()
    assert notice.locator("a[href='tel:+15550100']").is_visible()
    assert notice.evaluate("(el) => el.getBoundingClientRect().top") >= 0
    context.set_offline(False)
    notice.wait_for(state="detached", timeout=TIMEOUT)
    context.close()


def test_feedback_is_stored_without_identifying_data(page, server):
    from ketabot.feedback import FeedbackStore

    store = FeedbackStore(server.database)
    ask(page, "Can ketamine cause hallucinations?")
    before = len(list(store.records()))
    page.locator("button[data-kb-rate=down]").last.click()
    page.locator("#kb-comment-row textarea").wait_for(timeout=TIMEOUT)
    page.locator("#kb-comment-row textarea").fill("Please add more about dreams.")
    page.locator("#kb-comment-send").click()
    page.wait_for_function(
        "document.querySelector('#kb-feedback-status').innerText.includes('comment was saved')",
        timeout=TIMEOUT,
    )
    rating, comment = list(store.records())[before:]
    assert rating["rating"] == "not_helpful" and rating["kind"] == "answer"
    assert rating["chunk_ids"] and "question" not in rating
    assert comment["rating_id"] == rating["id"]
    home = Path(server.database.removeprefix("sqlite:///")).parent
    stored = b"".join(p.read_bytes() for p in home.glob("ketabot.db*"))
    assert b"hallucinations" not in stored and b"127.0.0.1" not in stored


def test_a_canary_question_reaches_no_log_or_file(page, server):
    """Sent through the page, the API and a malformed call: nowhere on disk afterwards."""
    canary = "zebracanary4417"
    ask(page, f"Does ketamine help {canary} nerve pain?")
    api = f"{server.url}/gradio_api/run/ask"
    for body in ({"data": [f"What is {canary}?", []]}, {"data": [canary, 7]}, {"data": [canary]}):
        request = urllib.request.Request(
            api, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=30).read()
    uploads = os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio"
    places = [server.log.parent, Path(uploads)]
    found = [
        str(path)
        for place in places
        for path in place.rglob("*")
        if path.is_file() and canary.encode() in path.read_bytes()
    ]
    assert found == []


@pytest.fixture(scope="module")
def examples_site():
    """examples/ served on its own loopback port, as a clinic's site would be."""
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(ROOT / "examples")
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_the_chat_works_embedded_both_ways(chromium, browser, server, examples_site):
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.goto(f"{examples_site}/embed.html?server={server.url}")
    frame = page.frame_locator("#iframe-embed iframe")
    frame.locator("#kb-question textarea").fill("Is ketamine addictive?")
    frame.locator("#kb-question textarea").press("Enter")
    frame.locator(".kb-reply").wait_for(timeout=TIMEOUT)
    assert "[1]" in frame.locator(".kb-reply").inner_text()
    component = page.locator("gradio-app")
    component.locator("#kb-question textarea").wait_for(timeout=TIMEOUT)
    component.locator("#kb-question textarea").fill("How much ketamine should I take?")
    component.locator("#kb-question textarea").press("Enter")
    component.locator(".kb-refusal").wait_for(timeout=TIMEOUT)
    assert "not medical advice" in component.locator(".kb-refusal").inner_text()
    assert page.locator("h1").all_inner_texts() == ["Example Pain Clinic"], "one h1: the clinic's"
    assert component.locator(".kb-title[role=heading]").is_visible()
    page.close()


def test_the_iframe_takes_the_height_of_the_chat(chromium, browser, server, examples_site):
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    page.goto(f"{examples_site}/embed.html?server={server.url}")
    frame = page.frame_locator("#iframe-embed iframe")
    frame.locator("#kb-question textarea").wait_for(timeout=TIMEOUT)
    height = "document.querySelector('#iframe-embed iframe').getBoundingClientRect().height"
    page.wait_for_function(f"{height} !== 1100", timeout=TIMEOUT)
    inside = page.frame(url=re.compile("^" + re.escape(server.url)))  # not the page naming it
    bottoms = (
        "Math.max("
        + ", ".join(
            f"document.querySelector({json.dumps(s)}).getBoundingClientRect().bottom"
            for s in ("#kb-examples button", "#kb-clear", ".kb-notice")
        )
        + ")"
    )
    # The page reports its height as it settles (styles, fonts): the frame must end up fitting
    # everything, and no taller than the page.
    deadline = time.monotonic() + TIMEOUT / 1000
    while (empty := page.evaluate(height)) < (bottom := inside.evaluate(bottoms)):
        assert time.monotonic() < deadline, f"content ends at {bottom} px in a frame of {empty}"
        page.wait_for_timeout(200)
    frame.locator("#kb-question textarea").fill("What side effects can ketamine cause?")
    frame.locator("#kb-question textarea").press("Enter")
    frame.locator(".kb-reply").wait_for(timeout=TIMEOUT)
    page.wait_for_function(f"{height} > {empty}", timeout=TIMEOUT)
    page.close()


def test_the_web_component_keeps_to_itself_on_the_clinics_page(
    browser, spanish_server, examples_site
):
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.goto(f"{examples_site}/embed.html?server={spanish_server.url}")
    component = page.locator("gradio-app")
    # The component loads Gradio's whole front end from the server: slower than a page.
    component.locator("#kb-question textarea").wait_for(timeout=2 * TIMEOUT)
    assert page.evaluate("document.documentElement.lang") == "en", "the clinic's page stays en"
    assert component.get_attribute("lang") == "es"
    page.evaluate("window.dispatchEvent(new Event('offline'))")  # the clinic's page has no
    page.wait_for_timeout(1500)  # /healthz: no false "cannot reach" notice on it
    assert page.locator("#kb-offline").count() == 0
    page.close()


@pytest.fixture
def busy_server(tmp_path):
    """A server with room for one waiting request, kept full by callers of its /ask API."""
    from gradio_client import Client

    from conftest import CLINIC_TOML, serving

    config = CLINIC_TOML.replace("[web]\n", "[web]\nqueue_size = 1\nconcurrency = 1\n", 1)
    with serving(tmp_path, config) as busy:
        stop = threading.Event()

        def flood():
            client = Client(busy.url, verbose=False)
            while not stop.is_set():
                with contextlib.suppress(Exception):  # "queue full" is the point
                    client.predict("How does ketamine work for nerve pain?", [], api_name="/ask")

        callers = [threading.Thread(target=flood, daemon=True) for _ in range(6)]
        for caller in callers:
            caller.start()
        yield busy
        stop.set()
        for caller in callers:
            caller.join(timeout=30)


def test_an_emergency_gets_its_reply_when_the_queue_is_full(browser, busy_server):
    page = browser.new_page(viewport={"width": 375, "height": 740})
    page.goto(busy_server.url)
    page.wait_for_selector("#kb-question textarea", timeout=TIMEOUT)
    for message in ("I have crushing chest pain right now", "i took all my pills, cant stay awake"):
        ask(page, message, ".kb-emergency")
    assert page.locator(".kb-emergency").count() == 2
    assert page.locator("#kb-alert .kb-alert").inner_text().startswith("This may be")
    page.close()


@pytest.fixture(scope="module")
def spanish_server(chromium, tmp_path_factory):
    """The same server for a clinic whose page is in Spanish."""
    from conftest import CLINIC_TOML, serving

    config = CLINIC_TOML.replace("[clinic]\n", '[clinic]\nlanguage = "es"\n', 1)
    with serving(tmp_path_factory.mktemp("spanish"), config) as running:
        yield running


def test_a_clinic_in_spanish_gets_the_whole_page_in_spanish(browser, spanish_server):
    context = browser.new_context(**DEVICES["phone"])
    page = context.new_page()
    page.goto(spanish_server.url)
    page.wait_for_selector("#kb-question textarea", timeout=TIMEOUT)
    assert page.evaluate("document.documentElement.lang") == "es"
    notice = page.locator(".kb-notice").inner_text()
    assert "Solo información educativa de Example Pain Clinic" in notice
    assert "En una emergencia, llame al 112 ahora." in notice
    assert page.locator("#kb-question label").inner_text().strip() == "Su pregunta"
    assert page.locator("#kb-send").inner_text().strip() == "Preguntar"
    reply = ask(page, "¿Cómo funciona la ketamina para el dolor de los nervios?")
    assert "Fuentes" in reply.inner_text() or "no encontré" in reply.inner_text()
    assert page.locator("button[data-kb-rate=up]").last.get_attribute("aria-label") == "Útil"
    refusal = ask(page, "¿Cuánta ketamina me tomo para mi dolor?", ".kb-refusal")
    assert "No puedo dar consejos sobre dosis" in refusal.inner_text()
    assert serious_violations(page) == []
    context.close()
