"""PDF, Word and web-page files in the corpus: real files made here, read, chunked, quoted.

The PDF is printed by headless Chromium from HTML (two pages), the Word file written with
python-docx, the web page has navigation, an advertisement and a footer around its article.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_settings
from ketabot.chunking import chunk_document
from ketabot.corpus import load_document, read_corpus
from ketabot.errors import CorpusError
from ketabot.readers import read_docx, read_html, read_pdf

PDF_HTML = """<!doctype html><html><head><title>Infusion day at Riverbend</title></head>
<body style="font-family: sans-serif">
<h1>Infusion day at Riverbend</h1>
<p>This handout explains what happens on the day of a ketamine infusion at the Riverbend
Pain Clinic, from arrival to going home, so that nothing comes as a surprise.</p>
<p>Please arrange for a friend or relative to drive you home after the infusion.</p>
<h2 style="break-before: page">Monitoring during the infusion</h2>
<p>During a ketamine infusion at Riverbend, a nurse checks your blood pressure and oxygen
level every fifteen minutes and stays within sight of your chair the whole time.</p>
</body></html>"""

PDF_PAGE_TWO = "a nurse checks your blood pressure and oxygen level every fifteen minutes"

DOCX_FACT = (
    "Some patients notice vivid dreams for one or two nights after a ketamine infusion, "
    "and this usually settles without any treatment."
)

# The article is what a patient should read; the rest is page furniture.
FURNITURE = [
    "Spring special",
    "massage packages",
    "All rights reserved",
    "Book now",
    "Subscribe to our newsletter",
]
HTML_PAGE = """<!doctype html><html lang="en"><head>
<title>Your first ketamine visit | Riverbend Pain Clinic</title>
<link rel="canonical" href="https://riverbend.example/first-visit">
<meta property="og:site_name" content="Riverbend Pain Clinic">
</head><body>
<header><nav><a href="/">Home</a> | <a href="/services">Services</a> |
<a href="/book">Book now</a> | <a href="/contact">Contact</a></nav></header>
<aside class="ad"><p>Spring special: 20% off massage packages this month only!</p></aside>
<main><article>
<h1>Your first ketamine visit</h1>
<p>Wear comfortable clothes with sleeves that roll up easily, because the nurse places a
small intravenous line in your arm before a ketamine infusion begins.</p>
<p>Bring a list of every medicine you take, including vitamins and supplements, so the
team can check how they combine with ketamine before your first infusion.</p>
<p>Plan to spend about three hours at the clinic on the day of your first infusion,
including the time for checks before and rest afterwards.</p>
<h2>After you get home</h2>
<p>Rest for the remainder of the day and avoid important decisions until the next
morning, because ketamine can leave you feeling drowsy or detached for some hours.</p>
</article></main>
<aside><p>Subscribe to our newsletter for clinic news.</p></aside>
<footer><p>&copy; 2026 Riverbend Pain Clinic. All rights reserved. Privacy policy.</p></footer>
</body></html>"""


def make_pdf(browser, path: Path, html: str = PDF_HTML) -> Path:
    page = browser.new_page()
    try:
        page.set_content(html)
        page.pdf(path=str(path), format="A5")
    finally:
        page.close()
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph("After your ketamine treatment", style="Title")
    document.add_heading("Sleep and dreams", level=1)
    document.add_paragraph(DOCX_FACT)
    document.add_heading("Who to call", level=1)
    document.add_paragraph("Call the clinic's nurse line if anything worries you.")
    document.add_paragraph("Keep this sheet with your discharge papers.", style="List Bullet")
    document.save(str(path))
    return path


def make_html(path: Path, html: str = HTML_PAGE) -> Path:
    path.write_text(html, encoding="utf-8")
    return path


# ---------------------------------------------------------------- each reader


@pytest.mark.slow
@pytest.mark.browser
def test_a_pdf_printed_by_chromium_keeps_its_pages(browser, tmp_path):
    read = read_pdf(make_pdf(browser, tmp_path / "infusion-day.pdf"))
    assert len(read.page_starts) == 2
    second = read.text.index(PDF_PAGE_TWO)
    assert second > read.page_starts[1], "the monitoring paragraph is on page 2"
    assert read.text.index("drive you home") < read.page_starts[1]
    # lines printed apart are one sentence again, so it can be quoted whole
    assert "ketamine infusion at the Riverbend Pain Clinic, from arrival" in read.text


@pytest.mark.slow
@pytest.mark.browser
def test_pdf_chunks_never_cross_a_page_and_know_theirs(browser, tmp_path):
    document = load_document(make_pdf(browser, tmp_path / "infusion-day.pdf"))
    chunks = chunk_document(document)
    assert {c.page for c in chunks} == {1, 2}
    for chunk in chunks:
        assert document.body[chunk.start : chunk.start + len(chunk.text)] == chunk.text
        assert document.page_at(chunk.start) == document.page_at(chunk.start + len(chunk.text) - 1)
    on_two = next(c for c in chunks if PDF_PAGE_TWO in c.text)
    assert on_two.page == 2


def test_a_word_file_keeps_title_headings_and_bullets(tmp_path):
    read = read_docx(make_docx(tmp_path / "aftercare.docx"))
    assert read.meta["title"] == "After your ketamine treatment"
    assert "## Sleep and dreams" in read.text
    assert DOCX_FACT in read.text
    assert "- Keep this sheet with your discharge papers." in read.text
    assert "After your ketamine treatment" not in read.text  # the title is metadata


def test_a_web_page_gives_its_article_not_its_furniture(tmp_path):
    read = read_html(make_html(tmp_path / "first-visit.html"))
    assert "Wear comfortable clothes with sleeves that roll up easily" in read.text
    assert "## After you get home" in read.text
    for furniture in FURNITURE:
        assert furniture not in read.text
    assert read.meta["url"] == "https://riverbend.example/first-visit"
    assert read.meta["publisher"] == "Riverbend Pain Clinic"


def test_a_sidecar_file_overrides_what_the_file_says(tmp_path):
    path = make_docx(tmp_path / "aftercare.docx")
    (tmp_path / "aftercare.docx.yaml").write_text(
        "title: Aftercare sheet\npublisher: Riverbend Pain Clinic\ndate: 2026-03-01\n"
        "url: https://riverbend.example/aftercare\n"
    )
    document = load_document(path)
    assert (document.id, document.title, document.publisher) == (
        "aftercare",
        "Aftercare sheet",
        "Riverbend Pain Clinic",
    )
    assert (document.date, document.url) == ("2026-03-01", "https://riverbend.example/aftercare")


# ---------------------------------------------------------------- bad documents


def _encrypted_pdf(path: Path) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=300, height=300)
    writer.encrypt("secret")
    with path.open("wb") as out:
        writer.write(out)
    return path


def _image_only_pdf(path: Path) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=300, height=300)  # no text layer, as a scan has none
    with path.open("wb") as out:
        writer.write(out)
    return path


BAD_FILES = {
    "locked.pdf": (_encrypted_pdf, "encrypted"),
    "scan.pdf": (_image_only_pdf, "no text layer"),
    "broken.docx": (lambda p: (p.write_bytes(b"PK\x03\x04 not really a zip"), p)[1], "Word file"),
    "menu-only.html": (
        lambda p: make_html(p, "<html><body><nav><a href='/'>Home</a></nav></body></html>"),
        "no main text",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_each_bad_document_is_named_with_its_reason(tmp_path, name):
    make, reason = BAD_FILES[name]
    path = make(tmp_path / name)
    with pytest.raises(CorpusError) as info:
        load_document(path)
    assert name in str(info.value) and reason in str(info.value)


def test_a_file_over_the_size_limit_is_named(tmp_path):
    path = make_html(tmp_path / "first-visit.html")
    with pytest.raises(CorpusError, match=r"first-visit\.html.*over the 0\.001 MB limit"):
        load_document(path, max_bytes=1000)


def test_the_good_files_are_read_and_each_bad_one_named(tmp_path):
    make_docx(tmp_path / "aftercare.docx")
    make_html(tmp_path / "first-visit.html")
    for name, (make, _) in BAD_FILES.items():
        make(tmp_path / name)
    found = read_corpus(tmp_path)
    assert sorted(d.id for d in found.documents) == ["aftercare", "first-visit"]
    assert sorted(p.path.name for p in found.problems) == sorted(BAD_FILES)


# ---------------------------------------------------------------- answered from them


@pytest.fixture(scope="module")
def clinic_bot(browser, embedder, tmp_path_factory):
    """A bot over a corpus of only the three clinic files, through `ingest`."""
    from ketabot.bot import Bot
    from ketabot.ingest import ingest

    tmp = tmp_path_factory.mktemp("clinic")
    corpus = tmp / "corpus"
    corpus.mkdir()
    make_pdf(browser, corpus / "infusion-day.pdf")
    make_docx(corpus / "aftercare.docx")
    make_html(corpus / "first-visit.html")
    settings = make_settings(tmp, corpus=corpus)
    report = ingest(settings, embedder=embedder)
    assert report.documents == 3 and not report.skipped
    return Bot(settings, embedder=embedder)


# What this checks is the path from each file to a cited quote; how often the answerability
# model answers looser paraphrases ("can ketamine cause vivid dreams?" gets "not found" here)
# is the answerability issue's blind figure, not this test's.
ANSWERED_ONLY_FROM = [
    ("How often is blood pressure checked during a ketamine infusion at Riverbend?",
     "infusion-day", PDF_PAGE_TWO, 2),
    ("Do some patients have vivid dreams after a ketamine infusion?",
     "aftercare", "vivid dreams for one or two nights", None),
    ("What should I bring to my first ketamine infusion?",
     "first-visit", "a list of every medicine you take", None),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize(("question", "doc_id", "phrase", "page"), ANSWERED_ONLY_FROM)
def test_each_file_answers_its_question_with_a_verbatim_cited_quote(
    clinic_bot, question, doc_id, phrase, page
):
    reply = clinic_bot.ask(question)
    assert reply.kind.value == "answer", reply.text
    cited = [c for c in reply.citations if phrase in c.quote]
    assert cited, f"no quote holds {phrase!r}: {[c.quote for c in reply.citations]}"
    citation = cited[0]
    assert citation.doc_id == doc_id
    assert citation.page == page
    document = next(d for d in read_corpus(clinic_bot.settings.corpus).documents if d.id == doc_id)
    assert citation.quote in citation.passage and citation.passage in document.body
    assert citation.to_json()["page"] == page
    if doc_id == "first-visit":
        assert citation.url == "https://riverbend.example/first-visit"


@pytest.mark.slow
@pytest.mark.browser
def test_the_web_pages_furniture_is_never_quoted(clinic_bot):
    chunks = clinic_bot.retriever.snapshot.chunks
    for furniture in FURNITURE:
        assert not any(furniture in chunk.text for chunk in chunks)
    for question in ("Is there a spring special on massage?", "How do I subscribe to news?"):
        reply = clinic_bot.ask(question)
        assert not any(f in c.quote for c in reply.citations for f in FURNITURE)


def test_convert_turns_a_word_file_into_markdown_that_reads_the_same(tmp_path, capsys):
    from ketabot.cli import main

    source = make_docx(tmp_path / "aftercare.docx")
    out = tmp_path / "corpus"
    assert main(["convert", str(source), "--out", str(out)]) == 0
    converted = load_document(out / "aftercare.md")
    original = load_document(source)
    assert (converted.id, converted.title) == (original.id, original.title)
    assert converted.body.strip() == original.body.strip()
    assert "Wrote" in capsys.readouterr().out
