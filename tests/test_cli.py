"""The `ketabot` command: in-process through `cli.main`, and one real process as a user runs it."""

import datetime as dt
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT, subprocess_env
from ketabot.cli import main


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """A user's shell: its own index folder, no clinic config, the project corpus."""
    config = tmp_path / "empty.toml"
    config.write_text("")
    for name, value in {
        "KETABOT_HOME": tmp_path / "home",
        "KETABOT_CONFIG": config,
        "KETABOT_CORPUS": CORPUS,
        "KETABOT_FEEDBACK_FILE": tmp_path / "feedback.jsonl",
    }.items():
        monkeypatch.setenv(name, str(value))
    return tmp_path


@pytest.fixture
def with_model(monkeypatch, embedder):
    """Every embedder the CLI loads is the session's real model (loaded once, not per command)."""
    monkeypatch.setattr("ketabot.bot.load_embedder", lambda *_, **__: embedder)
    monkeypatch.setattr("ketabot.ingest.load_embedder", lambda *_, **__: embedder)


@pytest.fixture
def with_fake_model(monkeypatch, hash_embedder):
    """Around the model (ingest bookkeeping, errors) meaning is not needed: a fast fake."""
    monkeypatch.setattr("ketabot.bot.load_embedder", lambda *_, **__: hash_embedder)
    monkeypatch.setattr("ketabot.ingest.load_embedder", lambda *_, **__: hash_embedder)


@pytest.mark.slow
def test_ask_builds_the_index_itself_and_answers_from_the_nmda_passages(
    cli_env, with_model, capsys
):
    assert main(["ask", "--json", "How does ketamine work for nerve pain?"]) == 0
    out, err = capsys.readouterr()
    assert "No index yet" in err
    reply = json.loads(out)
    assert reply["kind"] == "answer"
    assert 2 <= len(reply["citations"]) <= 5
    assert "NMDA" in reply["citations"][0]["quote"]
    assert reply["text"].endswith(reply["disclaimer"])
    assert reply["disclaimer"].startswith("ketabot shares general education")


@pytest.mark.slow
def test_json_lines_from_standard_input_in_order(cli_env, with_model, capsys, monkeypatch):
    questions = [
        "What is the capital of France?",
        "How much ketamine should I take?",
        "",
        "I can't breathe after my infusion",
        "Is ketamine addictive?",
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(questions) + "\n"))
    assert main(["ask", "--json", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
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


@pytest.mark.slow
def test_the_interactive_prompt_keeps_the_conversation(cli_env, with_model, capsys, monkeypatch):
    from ketabot import bot as bot_module

    asked = []
    real_ask = bot_module.safe_ask

    def recording_ask(bot, question, history=None):
        asked.append((question, list(history or [])))
        return real_ask(bot, question, history)

    monkeypatch.setattr(bot_module, "safe_ask", recording_ask)
    typed = "How much ketamine should I take?\nand for my mother?\n\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    assert main(["ask", "--json"]) == 0
    out = capsys.readouterr().out
    assert "To quit: an empty line, Ctrl-D or Ctrl-C." in out
    assert asked == [
        ("How much ketamine should I take?", []),
        ("and for my mother?", ["How much ketamine should I take?"]),
    ]
    replies = [json.loads(line.split("you> ")[-1]) for line in out.splitlines() if "{" in line]
    assert [(r["kind"], r["reason"]) for r in replies] == [("refusal", "dosing_advice")] * 2


@pytest.mark.parametrize("ending", [EOFError, KeyboardInterrupt])
def test_ctrl_d_and_ctrl_c_leave_the_prompt_quietly(
    cli_env, with_fake_model, capsys, monkeypatch, ending
):
    def interrupted(prompt=""):
        raise ending

    monkeypatch.setattr("builtins.input", interrupted)
    assert main(["ask"]) == 0
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.slow
def test_plain_ask_prints_a_readable_answer(cli_env, with_model, capsys):
    assert main(["ask", "What side effects can ketamine cause?"]) == 0
    out = capsys.readouterr().out
    assert "[1]" in out and "Sources:" in out
    assert out.strip().endswith("call your local emergency number now.")


def test_ingest_reports_what_it_did_and_changes_nothing_the_second_time(
    cli_env, with_fake_model, capsys
):
    assert main(["ingest"]) == 0
    assert main(["ingest"]) == 0
    second = capsys.readouterr().out.splitlines()[-1]
    assert "5 documents, 83 chunks: 0 added, 83 unchanged, 0 removed" in second


def test_a_bad_corpus_file_is_named_without_a_stack_trace(cli_env, with_fake_model, capsys):
    assert main(["ingest"]) == 0
    corpus = cli_env / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "99-broken.md").write_text("---\nid: [oops\n---\ntext\n")
    capsys.readouterr()
    # the rest is indexed (it already was: nothing else changes), the bad file named
    assert main(["ingest", "--corpus", str(corpus)]) == 0
    out, err = capsys.readouterr()
    assert "99-broken.md" in err and "not valid YAML" in err and "Traceback" not in err
    assert "0 added" in out and "1 files left out" in out


def test_a_corpus_with_no_readable_file_changes_nothing(cli_env, with_fake_model, capsys):
    assert main(["ingest"]) == 0
    corpus = cli_env / "broken-corpus"
    corpus.mkdir()
    (corpus / "99-broken.md").write_text("---\nid: [oops\n---\ntext\n")
    capsys.readouterr()
    assert main(["ingest", "--corpus", str(corpus)]) == 2
    err = capsys.readouterr().err
    assert "99-broken.md" in err and "not valid YAML" in err and "Traceback" not in err
    assert main(["ingest"]) == 0
    assert "0 added" in capsys.readouterr().out  # the index was not touched


def test_a_bad_setting_is_reported_clearly(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("KETABOT_WEB__PORT", "not-a-port")
    assert main(["ask", "hello"]) == 2
    err = capsys.readouterr().err
    assert "port" in err and "Traceback" not in err


def test_eval_without_the_extra_says_how_to_install_it(cli_env, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ranx" else real(name, *a)
    )
    assert main(["eval"]) == 2
    assert "pip install 'ketabot[eval]'" in capsys.readouterr().err


@pytest.mark.slow
def test_a_real_process_answers_offline(tmp_path):
    """One smoke test as a user runs it: the console script in a fresh process, sockets guarded."""
    ketabot = Path(sys.executable).parent / "ketabot"
    result = subprocess.run(
        [str(ketabot), "ask", "--json", "Is ketamine addictive?"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=subprocess_env(KETABOT_HOME=str(tmp_path / "home")),
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    reply = json.loads(result.stdout)
    assert reply["kind"] == "answer" and reply["text"].endswith(reply["disclaimer"])


@pytest.mark.slow
def test_serve_and_app_py_start_the_same_way_and_log_replies(cli_env, monkeypatch):
    import logging
    import runpy

    started = []

    def fake_serve(settings, say=print):
        started.append((settings.web.port, logging.getLogger("ketabot").isEnabledFor(20)))

    monkeypatch.setattr("ketabot.web.serve.serve", fake_serve)
    # as in a fresh process, so that basicConfig applies; restored after the test
    monkeypatch.setattr(logging.root, "handlers", [])
    assert main(["serve", "--port", "7999"]) == 0
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(sys, "argv", ["app.py", "--port", "7998"])
    with pytest.raises(SystemExit) as finished:
        runpy.run_path(str(ROOT / "app.py"), run_name="__main__")
    assert finished.value.code == 0
    assert started == [(7999, True), (7998, True)]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["asc", "Is ketamine addictive?"], "did you mean `ketabot ask`?"),
        (["--config", "x.toml", "evl"], "did you mean `ketabot eval`?"),
        (["zzzz"], "the commands: ingest, convert, ask"),
    ],
)
def test_a_mistyped_command_gets_the_nearest_one(argv, said, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1


def _with_front_matter(path, extra: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("---\n", f"---\n{extra}", 1), encoding="utf-8")


def test_sources_lists_review_dates_and_fails_when_one_is_overdue(cli_env, capsys):
    corpus = cli_env / "corpus"
    shutil.copytree(CORPUS, corpus)
    first, second, *_ = sorted(corpus.glob("0*.md"))
    _with_front_matter(first, "reviewed: 2020-01-15\nreview_every: 12 months\n")
    _with_front_matter(second, f"reviewed: {dt.date.today().isoformat()}\nreview_every: 1 year\n")
    assert main(["sources", "--corpus", str(corpus)]) == 1
    out = capsys.readouterr().out
    assert f"OVERDUE      {first.name}: reviewed 2020-01-15, every 12 months, due 2021-01-15" in out
    assert f"ok           {second.name}: reviewed {dt.date.today().isoformat()}" in out
    assert "5 documents, 1 overdue for review, 0 withdrawn." in out
    first.write_text(first.read_text().replace("2020-01-15", dt.date.today().isoformat()))
    assert main(["sources", "--corpus", str(corpus)]) == 0


def test_a_withdrawn_document_stops_being_quoted_at_the_next_ingest(
    cli_env, with_fake_model, hash_embedder, capsys
):
    from ketabot.config import load_settings
    from ketabot.index import Index, connect

    corpus = cli_env / "corpus"
    shutil.copytree(CORPUS, corpus)
    withdrawn = sorted(corpus.glob("0*.md"))[0]
    doc_id = withdrawn.read_text().split("id: ", 1)[1].split("\n", 1)[0]
    settings = load_settings(corpus=corpus)

    def indexed() -> set[str]:
        index = Index(connect(settings), settings.collection)
        return {c.doc_id for c in index.open(hash_embedder).chunks}

    assert main(["ingest", "--corpus", str(corpus)]) == 0
    assert doc_id in indexed()
    _with_front_matter(withdrawn, "withdrawn: true\n")
    capsys.readouterr()
    assert main(["ingest", "--corpus", str(corpus)]) == 0
    assert f"withdrawn, not indexed: {withdrawn.name}" in capsys.readouterr().err
    assert doc_id not in indexed() and len(indexed()) == 4
    assert main(["sources", "--corpus", str(corpus)]) == 0
    assert f"withdrawn    {withdrawn.name}" in capsys.readouterr().out
