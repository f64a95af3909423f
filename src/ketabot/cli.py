"""The ``ketabot`` command: ingest, ask, serve, feedback, and the maintainer's eval and bench.

This is an edge: ketabot's exceptions become short messages that say what
to do next, never stack traces. ``python app.py`` is ``ketabot serve``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketabot.config import Settings, load_settings
from ketabot.errors import KetabotError
from ketabot.logs import configure as configure_logs

if TYPE_CHECKING:
    from ketabot.bot import Bot
    from ketabot.types import Reply

log = logging.getLogger("ketabot")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    guess = _did_you_mean(parser, argv)
    if guess:
        print(guess, file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    # A server logs one line per reply (its shape only, never the question).
    level = logging.INFO if args.verbose or args.command == "serve" else logging.WARNING
    configure_logs(level)
    try:
        settings = load_settings(**_overrides(args))
        configure_logs(level, settings.log_format)
        result: int = args.func(args, settings)
        return result
    except KetabotError as exc:
        print(f"ketabot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _did_you_mean(parser: argparse.ArgumentParser, argv: list[str]) -> str:
    """One line naming the nearest command when the command word is mistyped, else ""."""
    choices = next(
        (a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {}
    )
    typed = next(
        (
            word
            for before, word in zip(["", *argv], argv, strict=False)
            if not word.startswith("-") and before != "--config"
        ),
        None,
    )
    if typed is None or typed in choices:
        return ""
    near = difflib.get_close_matches(typed, list(choices), n=1)
    hint = f"did you mean `ketabot {near[0]}`?" if near else f"the commands: {', '.join(choices)}"
    return f"ketabot: there is no command {typed!r}; {hint}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ketabot",
        allow_abbrev=False,  # "--conf x" would hide which word is the command
        description="Patient education about ketamine for nerve pain, quoted from its sources.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    parser.add_argument("--config", type=Path, help="clinic config file (ketabot.toml)")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="build or update the index from the corpus")
    ingest.add_argument("--corpus", type=Path, help="folder of source documents")
    ingest.add_argument("--rebuild", action="store_true", help="re-embed everything")
    ingest.set_defaults(func=cmd_ingest)

    convert = commands.add_parser(
        "convert",
        help="turn a plain-text, PDF, Word or HTML document into a corpus Markdown file to "
        "check and edit",
    )
    convert.add_argument("file", type=Path, help="the .txt, .pdf, .docx or .html file")
    convert.add_argument("--out", type=Path, default=Path("corpus"), help="folder to write to")
    convert.set_defaults(func=cmd_convert)

    ask = commands.add_parser(
        "ask", help="ask a question ('-' reads one per line from stdin; none: a prompt)"
    )
    ask.add_argument(
        "question", nargs="?", help="the question, - for standard input, or none for a prompt"
    )
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.set_defaults(func=cmd_ask)

    serve = commands.add_parser("serve", help="serve the chat page (same as python app.py)")
    serve.add_argument("--host", help="address to listen on (KETABOT_WEB__HOST)")
    serve.add_argument("--port", type=int, help="port (KETABOT_WEB__PORT)")
    # Also after the command, as `python app.py --config FILE` has always taken it.
    serve.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    serve.set_defaults(func=cmd_serve)

    sources = commands.add_parser(
        "sources", help="list the source documents, their review dates and what is overdue"
    )
    sources.add_argument("--corpus", type=Path, help="folder of source documents")
    sources.set_defaults(func=cmd_sources)

    gaps = commands.add_parser(
        "gaps", help="what patients asked that the sources do not answer, by topic"
    )
    gaps.add_argument("--plot", type=Path, help="also draw questions per week to this PNG")
    gaps.set_defaults(func=cmd_gaps)

    feedback = commands.add_parser("feedback", help="summarise the patients' feedback")
    feedback.add_argument(
        "--file", type=Path, help="read a feedback.jsonl of an earlier version instead"
    )
    feedback.set_defaults(func=cmd_feedback)

    bench = commands.add_parser("bench", help="speed and scale figures (eval/reports/bench.json)")
    bench.add_argument(
        "--sizes", default="10000,100000", help="synthetic corpus sizes, comma-separated"
    )
    bench.add_argument(
        "--only",
        default="",
        help="only these sections, comma-separated: cold_start, ingest, query, scale, http",
    )
    bench.add_argument("--out", type=Path, default=Path("eval/reports/bench.json"))
    bench.set_defaults(func=cmd_bench)

    train = commands.add_parser(
        "train", help="train the triage intent model on eval/triage/ (seeded, about a minute)"
    )
    train.add_argument("--data", type=Path, default=Path("eval/triage"))
    train.add_argument(
        "--out", type=Path, default=Path("src/ketabot/safety/data"), help="folder for the model"
    )
    train.set_defaults(func=cmd_train)

    answers = commands.add_parser(
        "train-answers",
        help="train the answerability model on eval/answerability/ (seeded, a few minutes)",
    )
    answers.add_argument("--data", type=Path, default=Path("eval/answerability"))
    answers.add_argument(
        "--blind",
        type=Path,
        default=Path("eval/blind"),
        help="also learn from the answer rounds scored once here",
    )
    answers.add_argument(
        "--out", type=Path, default=Path("src/ketabot/data"), help="folder for the model"
    )
    answers.set_defaults(func=cmd_train_answers)

    evaluate = commands.add_parser("eval", help="evaluate on the labelled sets in eval/")
    evaluate.add_argument("--eval-dir", type=Path, default=Path("eval"))
    evaluate.add_argument(
        "--tune", action="store_true", help="choose thresholds on the tune split, write a preset"
    )
    evaluate.add_argument(
        "--check", action="store_true", help="exit 1 when a floor in eval/floors.toml is missed"
    )
    evaluate.add_argument(
        "--baseline", action="store_true", help="also run the plain LangChain pipeline"
    )
    evaluate.add_argument("--compare", type=Path, metavar="OLD.json", help="diff with a report")
    evaluate.add_argument(
        "--blind", type=Path, metavar="ROUND.yaml", help="score a blind round (first result kept)"
    )
    evaluate.add_argument(
        "--out", type=Path, help="report folder (default: .ketabot/reports, untracked)"
    )
    evaluate.set_defaults(func=cmd_eval)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.config:
        overrides["config"] = args.config
    if getattr(args, "corpus", None):
        overrides["corpus"] = args.corpus
    web = {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}
    if web:
        overrides["web"] = web
    return overrides


# ---------------------------------------------------------------- ingest


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """``ketabot ingest``, with a progress bar on standard error."""
    from tqdm import tqdm

    from ketabot.ingest import ingest

    with tqdm(desc="indexing", unit="chunk", disable=not sys.stderr.isatty()) as bar:
        report = ingest(settings, rebuild=args.rebuild, progress=bar.update, total=_total(bar))
    where = settings.chroma_url or settings.home
    for reason in report.skipped:
        # not an error exit: the rest was indexed, and `make run` should go on to serve it
        print(f"ketabot: left out {reason}", file=sys.stderr)
    for name in report.withdrawn:
        print(f"ketabot: withdrawn, not indexed: {name}", file=sys.stderr)
    for line in report.overdue:
        print(f"ketabot: due for review: {line}", file=sys.stderr)
    print(f"Indexed {settings.corpus} into {where}: {report.summary()}")
    return 0


def _total(bar: Any) -> Callable[[int], None]:
    def set_total(count: int) -> None:
        bar.total = count
        bar.refresh()

    return set_total


def cmd_convert(args: argparse.Namespace, settings: Settings) -> int:
    """``ketabot convert``: a .txt, PDF, Word or HTML document as Markdown with front matter.

    The Markdown replaces the original in the corpus (move the original out): both would
    claim the same id.
    """
    from ketabot.corpus import load_document, to_markdown

    document = load_document(args.file)
    target = args.out / f"{document.id}.md"
    if target.exists():
        print(f"ketabot: {target} already exists; not overwritten", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    target.write_text(to_markdown(document), encoding="utf-8")
    print(f"Wrote {target}: check its title, date and headings, then run `ketabot ingest`.")
    return 0


# ---------------------------------------------------------------- ask


def open_bot(settings: Settings) -> Bot:
    """A ready bot; builds the index first when there is none, so a new user just asks."""
    from ketabot.bot import Bot

    return Bot.ready(settings, say=_say)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    """``ketabot ask``: one question, one per line from standard input, or a prompt."""
    from ketabot.bot import safe_ask

    bot = open_bot(settings)
    write = _json_line if args.json else _text
    if args.question is None:
        return _interactive(bot, write)
    if args.question == "-":
        for line in sys.stdin:
            write(safe_ask(bot, line.rstrip("\r\n")))
    else:
        write(safe_ask(bot, args.question))
    return 0


def _interactive(bot: Bot, write: Callable[[Reply], None]) -> int:
    """A prompt for people at a terminal; earlier questions count as the conversation."""
    from ketabot.bot import safe_ask

    print(
        "Ask about ketamine treatment for nerve pain; follow-up questions remember the "
        "conversation.\nTo quit: an empty line, Ctrl-D or Ctrl-C."
    )
    history: list[str] = []
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            break
        if not question:
            break
        write(safe_ask(bot, question, history))
        history.append(question)
    return 0


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _json_line(reply: Reply) -> None:
    sys.stdout.write(json.dumps(reply.to_json(), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _text(reply: Reply) -> None:
    print(reply.text)
    print()
    sys.stdout.flush()


# ---------------------------------------------------------------- serve, feedback


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """``ketabot serve`` (and ``python app.py``): the chat page until interrupted."""
    from ketabot.web.serve import serve

    serve(settings, say=lambda message: print(message, flush=True))
    return 0


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    """``ketabot feedback``: counts by reply kind and rating, and the least helpful sources."""
    from ketabot.feedback import FeedbackStore, database_url, safe_url, summarize

    show = settings.clinic.store_question
    if args.file:  # a JSON-lines file of an earlier version, read as it is
        if not args.file.exists():
            print(f"No feedback file at {args.file}.")
            return 0
        with args.file.open(encoding="utf-8") as handle:
            print(f"{args.file}: {summarize(handle).render(show_comments=show)}")
        return 0
    url = database_url(settings)
    store = FeedbackStore(url, legacy_file=settings.feedback_file)
    summary = summarize(store.records())
    where = safe_url(url)
    if not summary.ratings and not summary.comments:
        state = "on" if settings.clinic.store_feedback else "off (store_feedback = false)"
        print(f"No feedback yet in {where}. Feedback storage is {state}.")
        return 0
    print(f"{where}: {summary.render(show_comments=show)}")
    return 0


# ---------------------------------------------------------------- sources


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    """``ketabot sources``: every document with its review state; exit 1 when one is overdue.

    The exit status lets a clinic's scheduled job (cron, CI) raise the alarm.
    """
    import datetime as dt

    from ketabot.corpus import read_corpus
    from ketabot.review import due, overdue, review_line

    corpus = args.corpus or settings.corpus
    found = read_corpus(corpus, max_bytes=settings.max_document_bytes)
    today = dt.date.today()
    late = 0
    for document in sorted(found.documents, key=lambda d: d.path.name):
        is_late = overdue(document, today)
        late += is_late
        state = "OVERDUE" if is_late else ("ok" if due(document) else "no schedule")
        print(f"{state:<12} {review_line(document)}  [{document.title}]")
    for document in found.withdrawn:
        print(f"{'withdrawn':<12} {document.path.name}  [{document.title}]")
    for problem in found.problems:
        print(f"{'unreadable':<12} {problem.args[0]}")
    total = len(found.documents)
    print(f"{total} documents, {late} overdue for review, {len(found.withdrawn)} withdrawn.")
    return 1 if late else 0


def cmd_gaps(args: argparse.Namespace, settings: Settings) -> int:
    """``ketabot gaps``: topics of unanswered questions, with counts over time."""
    import datetime as dt

    from ketabot.feedback import FeedbackStore, database_url, safe_url
    from ketabot.gaps import plot, render, summarize

    url = database_url(settings)
    rows = summarize(FeedbackStore(url).gaps(), dt.date.today())
    state = "on" if settings.clinic.record_gaps else "off (record_gaps = false)"
    print(f"{safe_url(url)} (recording {state}):")
    print(render(rows, show_questions=settings.clinic.store_question))
    if args.plot and rows:
        try:
            print(f"Plot written to {plot(rows, args.plot)}")
        except ImportError:
            print("The plot needs matplotlib: pip install -e '.[eval]'", file=sys.stderr)
            return 2
    return 0


# ---------------------------------------------------------------- bench


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    """``ketabot bench``: print the speed and scale tables and write bench.json."""
    from ketabot import evaluation

    evaluation.require("bench")
    from ketabot.evaluation import bench
    from ketabot.evaluation.cases import load_cases
    from ketabot.types import Kind

    bot = open_bot(settings)
    # Education questions go through every stage; refusals stop after the triage.
    questions = [
        c.question
        for c in load_cases(Path("eval"))
        if c.expected_kind is Kind.ANSWER and not c.history
    ]
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    result = bench.run(settings, bot, questions, sizes, say=_say, only=only)
    if only and args.out.is_file():  # a partial run updates its sections, keeps the rest
        result = {**json.loads(args.out.read_text()), **result}
    bench.write(result, args.out)
    print(bench.table(result))
    print(f"\nWritten to {args.out}")
    return 0


# ---------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    """``ketabot train``: fit the intent model, print its held-out figures, write it."""
    from ketabot import evaluation

    evaluation.require("train")
    from ketabot.embeddings import load_embedder
    from ketabot.evaluation.intent_training import train
    from ketabot.safety.intent import SHIPPED

    model, report = train(
        args.data,
        load_embedder(settings.embed_model, settings.model_cache, settings.embed_runtime),
        say=_say,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / SHIPPED)
    (args.out / "intent-figures.json").write_text(
        json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(json.dumps(report, indent=2, sort_keys=True))
    print(f"Wrote {args.out / SHIPPED} and {args.out / 'intent-figures.json'}")
    return 0


def cmd_train_answers(args: argparse.Namespace, settings: Settings) -> int:
    """``ketabot train-answers``: fit the answerability model, report it, write it."""
    from ketabot import evaluation

    evaluation.require("train-answers")
    from ketabot.answerability import SHIPPED
    from ketabot.bot import Bot
    from ketabot.evaluation.answer_training import train

    model, report = train(args.data, Bot.ready(settings, say=_say), say=_say, blind=args.blind)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / SHIPPED)
    figures = args.out / "answerability-figures.json"
    figures.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, sort_keys=True))
    print(f"Wrote {args.out / SHIPPED} and {figures}")
    return 0


# ---------------------------------------------------------------- eval


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """``ketabot eval``: metrics per split, or ``--tune`` to choose thresholds."""
    from ketabot import evaluation

    evaluation.require("eval")
    from ketabot.evaluation.cases import for_baseline, load_cases, source_texts
    from ketabot.evaluation.metrics import failures
    from ketabot.evaluation.report import Run, text_summary
    from ketabot.evaluation.runner import run, run_bot

    cases = load_cases(args.eval_dir)
    bot = open_bot(settings)
    if args.blind:
        return _blind(bot, args.blind)
    if args.tune:
        return _tune(bot, cases, settings, args.out or Path(".ketabot"))
    started = time.perf_counter()
    sources = source_texts(settings.corpus)
    runs = [Run.measure("ketabot", run_bot(bot, cases, say=_progress), sources)]
    if args.baseline:
        from ketabot.corpus import load_corpus
        from ketabot.evaluation.baseline import Baseline

        baseline = Baseline(load_corpus(settings.corpus), bot.embedder)
        asked = run(baseline, for_baseline(cases), say=_progress)
        runs.append(Run.measure("baseline", asked, sources))
    for m in runs[0].metrics.values():
        print("\n" + text_summary(m))
    for outcome in failures(runs[0].outcomes):
        case, reply = outcome.case, outcome.reply
        print(
            f"FAIL [{case.split}] {case.id} {case.category}: expected "
            f"{case.expected_kind.value}, got {reply.kind.value}/{reply.reason} "
            f"{list(reply.evidence)} :: {case.question}"
        )
    report = _write_report(runs, args, settings)
    print(f"\n{len(cases)} cases in {time.perf_counter() - started:.1f} s; report: {report}")
    if args.check:
        return _check(runs[0].metrics, args.eval_dir / "floors.toml")
    return 0


def _blind(bot: Bot, path: Path) -> int:
    from ketabot.evaluation.blind import score_round

    result, first = score_round(bot, path)
    print(json.dumps(result["summary"], indent=1))
    for miss in result["misses"]:
        print(f"MISS {miss['id']} {miss['category']}: got {miss['got']}")
    if first:
        print(f"First result recorded in {path.with_suffix('.first.json')}: the blind figure.")
    else:
        print("A first result was recorded earlier; this score is no longer blind.")
    return 0


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _write_report(runs: list[Any], args: argparse.Namespace, settings: Settings) -> Path:
    from ketabot.evaluation import report

    # Not eval/reports by default: those are tracked, and a run should not rewrite them.
    folder = args.out or settings.home / "reports"
    comparison = ""
    if args.compare:
        old = json.loads(args.compare.read_text(encoding="utf-8"))
        comparison = report.compare(old, report.as_json(runs))
        print(comparison)
    return report.write(folder, runs, comparison)


def _check(metrics: dict[str, Any], floors_path: Path) -> int:
    from ketabot.evaluation.metrics import check_floors, read_floors

    floors = read_floors(floors_path)
    missed = check_floors(metrics, floors)
    for line in missed:
        print(f"FLOOR MISSED: {line}")
    count = sum(len(v) for v in floors.values())
    print(f"{count - len(missed)}/{count} floors in {floors_path} hold.")
    return 1 if missed else 0


def _tune(bot: Bot, cases: list[Any], settings: Settings, folder: Path) -> int:
    from ketabot.evaluation import tuning

    tune_cases = [c for c in cases if c.split == "tune"]
    choices = tuning.tune(tuning.trace_cases(bot, tune_cases), settings)
    print(f"Tuned on {len(tune_cases)} cases of the tune split (no other split is read).")
    for name, choice in choices:
        values = ", ".join(f"{k} = {v:g}" for k, v in choice.values.items())
        print(
            f"  {name}: {values}  ->  {choice.correct}/{choice.total} right "
            f"({choice.ties} settings tied)"
        )
        if choice.unsafe:
            print(f"    {choice.unsafe} case(s) unsafe under every setting: see `ketabot eval`")
    folder.mkdir(parents=True, exist_ok=True)
    preset = folder / "tuned.toml"
    preset.write_text(tuning.preset_toml(choices, len(tune_cases)), encoding="utf-8")
    print(
        f"Wrote {preset}. Try it with KETABOT_PRESET={preset} ketabot eval; to ship it, copy it "
        "over src/ketabot/presets/default.toml."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
