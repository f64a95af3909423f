"""Shared fixtures: an offline environment, the real model, real Chroma, a built index."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# The test run's own switches, read before the settings variables are cleared below:
# CI sets KETABOT_REQUIRE_BROWSER=1 so a missing Chromium fails the browser tests instead of
# skipping them; KETABOT_TEST_CHROMIUM points them at another browser binary.
REQUIRE_BROWSER = os.environ.get("KETABOT_REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("KETABOT_TEST_CHROMIUM", "/usr/bin/chromium")

# Before anything imports Hugging Face, Chroma or Gradio: nothing may phone home.
for _name in [n for n in os.environ if n.startswith("KETABOT_")]:
    del os.environ[_name]
os.environ.update(
    HF_HUB_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    HF_HUB_DISABLE_TELEMETRY="1",
    ANONYMIZED_TELEMETRY="False",
    GRADIO_ANALYTICS_ENABLED="False",
    DO_NOT_TRACK="1",
)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ketabot.evaluation.procs import free_port, wait_until_serving  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
EVAL = ROOT / "eval"
DATA = Path(__file__).resolve().parent / "data"
SEEDS = DATA / "seeds"
OFFLINE = Path(__file__).resolve().parent / "offline"


def make_settings(tmp: Path, **overrides):
    """Settings isolated from the developer's shell and any ./ketabot.toml."""
    from ketabot.config import load_settings

    empty = tmp / "empty.toml"
    if not empty.exists():
        tmp.mkdir(parents=True, exist_ok=True)
        empty.write_text("")
    values = {
        "config": empty,
        "home": tmp / "home",
        "corpus": CORPUS,
        "feedback_file": tmp / "feedback.jsonl",
    }
    values.update(overrides)
    return load_settings(**values)


def assert_verbatim_answer(reply, sources, settings):
    """The properties every answer must have, whatever the question."""
    from itertools import pairwise

    from ketabot.answer import render_quotes
    from ketabot.safety.rules import states_dose
    from ketabot.text import is_complete_sentence

    assert 1 <= len(reply.citations) <= settings.retrieval.max_quotes
    assert sum(len(c.quote) for c in reply.citations) <= settings.retrieval.max_quote_chars
    assert reply.body == render_quotes(reply.citations)  # nothing but quotes and markers
    assert [c.n for c in reply.citations] == list(range(1, len(reply.citations) + 1))
    for citation in reply.citations:
        assert citation.quote in citation.passage, "quote is not in the chunk it cites"
        assert citation.quote in sources[citation.doc_id], "quote is not in the source file"
        assert is_complete_sentence(citation.quote)
        assert not states_dose(citation.quote)
        assert f"[{citation.n}] {citation.title}" in reply.sources
    # two quotes may come from one passage, but never share a word of it
    spans = {}
    for c in reply.citations:
        start = c.passage.index(c.quote)
        spans.setdefault(c.chunk_id, []).append((start, start + len(c.quote)))
    for chunk_spans in spans.values():
        ordered = sorted(chunk_spans)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(ordered))


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: offline, guarded sockets, no KETABOT_ leakage."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETABOT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OFFLINE), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@pytest.fixture(autouse=True)
def _no_ketabot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("KETABOT_")]:
        monkeypatch.delenv(name)


class HashEmbedder:
    """A deterministic stand-in for the model where meaning does not matter; counts its work."""

    name = "hash-embedder"
    dimension = 16

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, texts):
        self.embedded.extend(texts)
        rows = []
        for text in texts:
            rng = np.random.default_rng(zlib.crc32(text.encode()))
            row = rng.normal(size=self.dimension).astype(np.float32)
            rows.append(row / np.linalg.norm(row))
        return np.vstack(rows) if rows else np.zeros((0, self.dimension), np.float32)


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def embedder():
    """The real bundled model, loaded once for the whole session."""
    from ketabot.embeddings import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ketabot")


@pytest.fixture(scope="session")
def settings(session_tmp: Path):
    """Settings for the project corpus in a session-wide, embedded index."""
    return make_settings(session_tmp)


@pytest.fixture(scope="session")
def bot(settings, embedder):
    """A real bot over the real corpus: real model, real embedded Chroma, built once."""
    from ketabot.bot import Bot
    from ketabot.chunking import chunk_corpus
    from ketabot.corpus import load_corpus
    from ketabot.index import Index, connect

    Index(connect(settings), settings.collection).sync(
        chunk_corpus(load_corpus(settings.corpus)), embedder
    )
    return Bot(settings, embedder=embedder)


@pytest.fixture(scope="session")
def eval_outcomes(bot):
    """Every labelled case in eval/ through the real bot, once per session."""
    from ketabot.evaluation.cases import load_cases
    from ketabot.evaluation.runner import run_bot

    return run_bot(bot, load_cases(EVAL), primed=True)


@pytest.fixture(scope="session")
def sources() -> dict[str, str]:
    """Each document id's source file text, for the verbatim checks."""
    from ketabot.evaluation.cases import source_texts

    return source_texts(CORPUS)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a free loopback port; yields its URL."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    assert chroma, "the chroma CLI (from the chromadb package) is not installed"
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = (path / "server.log").open("wb")
    process = subprocess.Popen(
        [chroma, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=subprocess_env(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/api/v2/heartbeat", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


CLINIC_TOML = """
[clinic]
name = "Example Pain Clinic"
phone = "+1 555 0100"
website = "https://www.clinic.example/pain"
emergency_number = "112"
crisis_line = "116 123"
extra_disclaimer = "Example Pain Clinic reviews these articles every year."
page_title = "Ask Example Pain Clinic about ketamine"
example_questions = ["How does ketamine work for nerve pain?", "Is ketamine addictive?"]
store_feedback = true
store_question = false

[web]
# the examples page that embeds the chat runs on another loopback port
embed_origins = ["http://127.0.0.1:*"]

[api]
# the burst tests send dozens of questions at once from this one address
burst = 500
"""


@dataclass
class Server:
    """A running `python app.py` and what it printed."""

    url: str
    process: subprocess.Popen
    log: Path
    database: str
    """The feedback database's URL (SQLite in the server's home folder)."""
    started: float
    ready: float

    def output(self) -> str:
        return self.log.read_text(errors="replace")


_INDEXED: list[Path] = []


def indexed_home() -> Path:
    """A home folder with the project corpus indexed by `ketabot ingest`, built once a session.

    Each test server starts from a copy: building the index is the half minute of a server's
    start that every server would otherwise spend embedding the same corpus again.
    """
    if not _INDEXED:
        import atexit
        import tempfile

        home = Path(tempfile.mkdtemp(prefix="ketabot-indexed-"))
        atexit.register(shutil.rmtree, home, True)
        subprocess.run(
            [str(Path(sys.executable).parent / "ketabot"), "ingest"],
            env=subprocess_env(KETABOT_HOME=str(home), KETABOT_CORPUS=str(CORPUS)),
            check=True,
            capture_output=True,
            timeout=600,
        )
        _INDEXED.append(home)
    return _INDEXED[0]


@contextlib.contextmanager
def serving(
    tmp: Path, config_text: str = CLINIC_TOML, corpus: Path = CORPUS, **env: str
) -> Iterator[Server]:
    """`python app.py` with ``config_text`` as its clinic file, on a free loopback port.

    Its index starts as a copy of the project corpus's (``corpus`` may be a copy of it that a
    test then changes: an ingest compares by content, not by path).
    """
    shutil.copytree(indexed_home() / "chroma", tmp / "home" / "chroma")
    config = tmp / "ketabot.toml"
    config.write_text(config_text)
    port = free_port()
    log = tmp / "server.log"
    feedback = tmp / "feedback.jsonl"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp,
            env=subprocess_env(
                KETABOT_HOME=str(tmp / "home"),
                KETABOT_CORPUS=str(corpus),
                KETABOT_FEEDBACK_FILE=str(feedback),
                **env,
            ),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/config", process, seconds=180)
        database = f"sqlite:///{(tmp / 'home').resolve()}/ketabot.db"
        yield Server(url, process, log, database, started, time.monotonic())
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real chat server, started the way a clinic starts it, on a free loopback port.

    Its log is JSON lines, the option a clinic's log collector would choose.
    """
    with serving(tmp_path_factory.mktemp("server"), KETABOT_LOG_FORMAT="json") as running:
        yield running


@pytest.fixture(scope="session")
def client(server: Server):
    """The official gradio_client, connected to the real server."""
    from gradio_client import Client

    return Client(server.url, verbose=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """More time for whichever test first needs every labelled case run through the bot.

    ``eval_outcomes`` runs the 9,000-odd cases of ``eval/`` once per session (three to five
    minutes on the 2-core machine, more while the other worker runs); the default
    five-minute timeout is for a single test's own work. Every test reading it is in
    ``test_labelled_cases.py``: ``make test`` runs two workers with ``--dist loadfile``,
    which keeps a file on one worker, so the cases run once.
    """
    for item in items:
        if "eval_outcomes" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(900))


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, checked before anything else: session scope sets it up before the
    session-wide server, so a missing browser costs no server start."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
