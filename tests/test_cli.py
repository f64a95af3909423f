"""The `ketabot` command run as a user would: a real process, offline."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import subprocess_env

pytestmark = pytest.mark.slow
KETABOT = [sys.executable, "-m", "ketabot.cli"]


def run(args, home: Path, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KETABOT, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(KETABOT_HOME=str(home), **env),
        cwd=Path(__file__).resolve().parents[1],
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli") / "home"


def test_ask_builds_the_index_itself_and_answers_from_the_nmda_passages(home):
    result = run(["ask", "--json", "How does ketamine work for nerve pain?"], home)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "No index yet" in result.stderr
    reply = json.loads(result.stdout)
    assert reply["kind"] == "answer"
    assert 2 <= len(reply["citations"]) <= 5
    assert "NMDA" in reply["citations"][0]["quote"]
    assert reply["text"].endswith(reply["disclaimer"])
    assert reply["disclaimer"].startswith("ketabot shares general education")


def test_json_lines_from_standard_input_in_order(home):
    questions = [
        "What is the capital of France?",
        "How much ketamine should I take?",
        "",
        "I can't breathe after my infusion",
        "Is ketamine addictive?",
    ]
    result = run(["ask", "--json", "-"], home, stdin="\n".join(questions) + "\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(questions)
    replies = [json.loads(line) for line in lines]
    assert [r["question"] for r in replies] == questions
    assert [r["kind"] for r in replies] == [
        "out_of_scope",
        "refusal",
        "error",
        "emergency",
        "answer",
    ]
    for reply in replies:
        assert {"question", "kind", "reason", "text", "citations", "disclaimer"} <= set(reply)
        assert reply["disclaimer"] and reply["text"].endswith(reply["disclaimer"])
        for citation in reply["citations"]:
            assert {"n", "doc_id", "title", "section", "chunk_id", "quote"} <= set(citation)


def test_plain_ask_prints_a_readable_answer(home):
    result = run(["ask", "What side effects can ketamine cause?"], home)
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "Sources:" in result.stdout
    assert result.stdout.strip().endswith("call your local emergency number now.")


def test_ingest_reports_what_it_did_and_changes_nothing_the_second_time(home):
    result = run(["ingest"], home)
    assert result.returncode == 0, result.stderr
    assert "5 documents, 83 chunks: 0 added, 83 unchanged, 0 removed" in result.stdout


def test_a_bad_corpus_file_is_named_without_a_stack_trace(tmp_path, home):
    corpus = tmp_path / "corpus"
    shutil.copytree(Path(__file__).resolve().parents[1] / "corpus", corpus)
    (corpus / "99-broken.md").write_text("---\nid: [oops\n---\ntext\n")
    result = run(["ingest", "--corpus", str(corpus)], home)
    assert result.returncode == 2
    assert "99-broken.md" in result.stderr and "not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr
    assert "0 added" in run(["ingest"], home).stdout  # the index was not touched


def test_a_bad_setting_is_reported_clearly(home):
    result = run(["ask", "hello"], home, KETABOT_PORT="not-a-port")
    assert result.returncode == 2
    assert "port" in result.stderr and "Traceback" not in result.stderr
