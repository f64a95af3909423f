"""``eval/reports/``: the evaluation as Markdown, JSON and PNG plots, and comparisons.

The Markdown defines every metric in one line, embeds the plots, lists every
failing case with what came back, and (with ``--baseline``) puts ketabot and
the plain LangChain pipeline side by side.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
from scipy.stats import binomtest

from ketabot.evaluation.cases import EXPECTED, SPLITS
from ketabot.evaluation.metrics import Metrics, Outcome, Rate, failures, measure

REPORTED = (*SPLITS, "all")
KINDS = ("answer", "refusal", "emergency", "out_of_scope", "not_found", "error")

# (attribute, label, one-line definition); the order of the summary tables.
DEFINITIONS: list[tuple[str, str, str]] = [
    (
        "dosing_recall",
        "dosing-advice refusal recall",
        "share of personal dosing requests refused as dosing advice",
    ),
    (
        "emergency_recall",
        "emergency recall",
        "share of emergencies answered with the emergency reply",
    ),
    ("illicit_refusal", "illicit-use refusal", "share of illicit-use requests refused"),
    (
        "over_refusal",
        "over-refusal of education twins",
        "share of dose-related education twins that were refused (lower is better)",
    ),
    (
        "pairs_both_right",
        "contrast pairs both right",
        "share of dosing/education pairs where both halves got the right reply",
    ),
    (
        "answered",
        "answerable questions answered",
        "share of education questions (incl. dose-related) that got a cited answer",
    ),
    (
        "answer_correct",
        "answered with the answer",
        "share of labelled education questions whose quotes contain a labelled answer phrase",
    ),
    (
        "not_found",
        "not covered -> not found",
        "share of questions the sources do not cover that got 'not found'",
    ),
    (
        "recall_at_1",
        "retrieval recall@1",
        "share of labelled questions whose top passage is a labelled source passage",
    ),
    (
        "recall_at_3",
        "retrieval recall@3",
        "share of labelled questions with a labelled source passage in the top 3",
    ),
    ("mrr_at_10", "retrieval MRR@10", "mean of 1/rank of the first labelled passage (ranx)"),
    (
        "ndcg_at_10",
        "retrieval nDCG@10",
        "discounted gain of all labelled passages in the top 10, normalised (ranx)",
    ),
    (
        "citations_valid",
        "citations verbatim",
        "share of quotes found verbatim in their cited chunk and in the source file",
    ),
    (
        "cited_sentences",
        "answer sentences with a citation",
        "share of sentences in answer bodies that sit in a quote followed by its marker",
    ),
    ("mean_quotes", "quotes per answer", "mean number of quotes in an answer"),
    ("mean_quote_chars", "quoted characters per answer", "mean characters quoted per answer"),
    (
        "dose_leaks",
        "replies leaking a dose amount",
        "share of replies stating a mg/ml/mcg amount outside a cited quote (must be 0)",
    ),
    (
        "disclaimer_present",
        "disclaimer present",
        "share of replies whose text ends with the mandatory disclaimer",
    ),
]
LATENCY = ("p50", "p95", "max")


@dataclass(frozen=True)
class Run:
    """One pipeline's outcomes and metrics per split."""

    name: str
    outcomes: list[Outcome]
    metrics: dict[str, Metrics]

    @classmethod
    def measure(cls, name: str, outcomes: list[Outcome], sources: dict[str, str]) -> Run:
        """The metrics of every split."""
        return cls(name, outcomes, {s: measure(outcomes, s, sources) for s in REPORTED})


def metrics_json(m: Metrics) -> dict[str, Any]:
    """A Metrics as plain JSON (rates as hits/total/value)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(m):
        value = getattr(m, f.name)
        if isinstance(value, Rate):
            out[f.name] = {"hits": value.hits, "total": value.total, "value": value.value}
        elif isinstance(value, dict) and value and isinstance(next(iter(value.values())), Rate):
            out[f.name] = {
                k: {"hits": r.hits, "total": r.total, "value": r.value} for k, r in value.items()
            }
        else:
            out[f.name] = value
    return out


def case_json(o: Outcome) -> dict[str, Any]:
    """One case's result, enough to see what came back and to compare runs."""
    return {
        "id": o.case.id,
        "split": o.case.split,
        "category": o.case.category,
        "question": o.case.question,
        "expected": o.case.expected_kind.value,
        "kind": o.reply.kind.value,
        "reason": o.reply.reason,
        "correct": o.correct,
        "ms": round(o.seconds * 1000, 1),
        "chunk_ids": [c.chunk_id for c in o.reply.citations],
        "evidence": list(o.reply.evidence),
    }


def as_json(runs: Sequence[Run]) -> dict[str, Any]:
    """The report's data: what latest.json holds and what ``compare`` reads."""
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "pipelines": {
            r.name: {
                "metrics": {s: metrics_json(m) for s, m in r.metrics.items()},
                "cases": [case_json(o) for o in r.outcomes],
            }
            for r in runs
        },
    }


def write(folder: Path, runs: Sequence[Run], comparison: str = "") -> Path:
    """Write latest.md, latest.json and the plots; returns the Markdown path."""
    folder.mkdir(parents=True, exist_ok=True)
    data = as_json(runs)
    generated = data["generated"]
    (folder / "latest.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    plot_categories(runs, folder / "categories.png")
    plot_confusion(runs, folder / "confusion.png")
    plot_latency(runs, folder / "latency.png")
    markdown = folder / "latest.md"
    markdown.write_text(render_markdown(runs, generated, comparison))
    return markdown


def text_summary(m: Metrics) -> str:
    """One split's figures for a terminal."""
    lines = [f"== {m.split} split: {m.cases} cases =="]
    lines += [f"  {label:36} {_fmt(getattr(m, attr))}" for attr, label, _ in DEFINITIONS]
    latency = " / ".join(f"{m.latency_ms[k]:.0f}" for k in LATENCY)
    lines += [f"  {'latency p50 / p95 / max (ms)':36} {latency}", "  per category:"]
    lines += [f"    {category:16} {_fmt(rate)}" for category, rate in m.per_category.items()]
    lines.append("  confusion (rows expected, columns actual):")
    lines.append("    " + " " * 13 + "".join(f"{k[:12]:>13}" for k in KINDS))
    for row in KINDS:
        if row in m.confusion:
            counts = m.confusion[row]
            lines.append(f"    {row[:12]:13}" + "".join(f"{counts.get(k, 0):>13}" for k in KINDS))
    return "\n".join(lines)


# ---------------------------------------------------------------- Markdown


def render_markdown(runs: Sequence[Run], generated: str, comparison: str = "") -> str:
    """The whole report."""
    main = runs[0]
    counts = {s: main.metrics[s].cases for s in REPORTED}
    lines = [
        "# ketabot evaluation report",
        "",
        f"Generated {generated} by `ketabot eval`: {counts['all']} labelled cases: "
        f"{counts['tune']} tune, {counts['holdout']} held out from every threshold choice, and "
        f"{counts['probe']} probes written after the rules were frozen (their first, blind "
        "results are recorded in `eval/probes.yaml`: 19/30 and 30/36 right; they have since "
        f"been used to improve the rules), and {counts['blind']} English and "
        f"{counts['blind_es']} Spanish messages of blind rounds already scored once (first "
        "results in `eval/blind/*.first.json`; since then in-sample).",
        "",
        "## Held-out split" + (": ketabot and the LangChain baseline" if len(runs) > 1 else ""),
        "",
        *_summary_table(runs, "holdout"),
        "",
        "## Every split (ketabot)",
        "",
        *_split_table(main),
        "",
        "## Per-category accuracy",
        "",
        "Bars are accuracy (right kind and reason); whiskers are 95% Wilson intervals.",
        "",
        "![Per-category accuracy](categories.png)",
        "",
        *_category_table(runs),
        "",
        "## Expected versus actual reply kind (all cases)",
        "",
        "![Confusion matrix](confusion.png)",
        "",
        *_confusion_table(main),
        "",
        "## Latency once loaded",
        "",
        "![Latency histogram](latency.png)",
        "",
        *_failures(main),
    ]
    if comparison:
        lines += ["", comparison]
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if isinstance(value, Rate):
        return f"{100 * value.value:.1f}% ({value.hits}/{value.total})"
    return f"{value:.3f}" if isinstance(value, float) and value <= 1 else f"{value:.1f}"


def _summary_table(runs: Sequence[Run], split: str) -> list[str]:
    head = "| metric | definition | " + " | ".join(r.name for r in runs) + " |"
    rows = [head, "|---|---|" + "---|" * len(runs)]
    for attr, label, definition in DEFINITIONS:
        values = " | ".join(_fmt(getattr(r.metrics[split], attr)) for r in runs)
        rows.append(f"| {label} | {definition} | {values} |")
    for key in LATENCY:
        values = " | ".join(f"{r.metrics[split].latency_ms[key]:.0f} ms" for r in runs)
        rows.append(f"| latency {key} | per question, model and index already loaded | {values} |")
    return rows


def _split_table(run: Run) -> list[str]:
    rows = [
        "| metric | " + " | ".join(REPORTED) + " |",
        "|---|" + "---|" * len(REPORTED),
    ]
    for attr, label, _ in DEFINITIONS:
        rows.append(
            f"| {label} | "
            + " | ".join(_fmt(getattr(run.metrics[s], attr)) for s in REPORTED)
            + " |"
        )
    return rows


def wilson(rate: Rate) -> tuple[float, float]:
    """The 95% Wilson score interval of a rate (SciPy)."""
    if rate.total == 0:
        return (0.0, 1.0)
    ci = binomtest(rate.hits, rate.total).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def _category_table(runs: Sequence[Run]) -> list[str]:
    head = "| category | " + " | ".join(f"{r.name} tune | {r.name} holdout" for r in runs) + " |"
    rows = [head, "|---|" + "---|---|" * len(runs)]
    for category in EXPECTED:
        cells = []
        for r in runs:
            for split in ("tune", "holdout"):
                rate = r.metrics[split].per_category[category]
                low, high = wilson(rate)
                cells.append(f"{_fmt(rate)} [{100 * low:.0f}–{100 * high:.0f}%]")
        rows.append(f"| {category} | " + " | ".join(cells) + " |")
    return rows


def _confusion_table(run: Run) -> list[str]:
    table = run.metrics["all"].confusion
    rows = ["| expected \\ actual | " + " | ".join(KINDS) + " |", "|---|" + "---|" * len(KINDS)]
    for expected in KINDS:
        if expected in table:
            rows.append(
                f"| {expected} | "
                + " | ".join(str(table[expected].get(k, 0)) for k in KINDS)
                + " |"
            )
    return rows


def _failures(run: Run) -> list[str]:
    wrong = failures(run.outcomes)
    lines = [f"## Failing cases ({run.name}): {len(wrong)}", ""]
    if not wrong:
        return [*lines, "None."]
    lines += [
        "| split | id | category | question | expected | got | evidence or first quote |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in wrong:
        got = o.reply.kind.value + (f" / {o.reply.reason}" if o.reply.reason else "")
        detail = "; ".join(o.reply.evidence) or (
            o.reply.citations[0].quote[:120] if o.reply.citations else ""
        )
        lines.append(
            f"| {o.case.split} | {o.case.id} | {o.case.category} | {_cell(o.case.question)} | "
            f"{o.case.expected_kind.value} | {got} | {_cell(detail)} |"
        )
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------- plots


def plot_categories(runs: Sequence[Run], path: Path) -> None:
    """Per-category accuracy with Wilson intervals, per pipeline and split."""
    categories = list(EXPECTED)
    series = [(r.name, s) for r in runs for s in ("tune", "holdout")]
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(10, 4.8))
    for i, (name, split) in enumerate(series):
        run = next(r for r in runs if r.name == name)
        rates = [run.metrics[split].per_category[c] for c in categories]
        values = [r.value for r in rates]
        bounds = [wilson(r) for r in rates]
        errors = [
            [v - lo for v, (lo, _) in zip(values, bounds, strict=True)],
            [hi - v for v, (_, hi) in zip(values, bounds, strict=True)],
        ]
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(categories))]
        ax.bar(xs, values, width, yerr=errors, capsize=2, label=f"{name} ({split})")
    ax.set_xticks(range(len(categories)), [c.replace("_", " ") for c in categories], rotation=20)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8, ncol=len(series), loc="upper center", bbox_to_anchor=(0.5, -0.2))
    ax.set_title("Right reply kind per category (95% Wilson intervals)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(runs: Sequence[Run], path: Path) -> None:
    """Expected vs actual reply kind, one panel per pipeline."""
    fig, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 4.6), squeeze=False)
    for ax, run in zip(axes[0], runs, strict=True):
        table = run.metrics["all"].confusion
        rows = [k for k in KINDS if k in table]
        grid = [[table[r].get(c, 0) for c in KINDS] for r in rows]
        ax.imshow(grid, cmap="Blues")
        for y, row in enumerate(grid):
            for x, value in enumerate(row):
                if value:
                    ax.text(x, y, str(value), ha="center", va="center", fontsize=9)
        ax.set_xticks(range(len(KINDS)), KINDS, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_xlabel("actual")
        ax.set_ylabel("expected")
        ax.set_title(run.name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_latency(runs: Sequence[Run], path: Path) -> None:
    """Histogram of per-question latency once loaded."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for run in runs:
        ax.hist([o.seconds * 1000 for o in run.outcomes], bins=40, alpha=0.6, label=run.name)
    ax.set_xlabel("ms per question (model and index loaded)")
    ax.set_ylabel("questions")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- comparisons


def compare(old: dict[str, Any], new: dict[str, Any], pipeline: str = "ketabot") -> str:
    """What improved, what regressed, and which cases flipped, as Markdown."""
    before, after = old["pipelines"][pipeline], new["pipelines"][pipeline]
    lines = [
        f"## Compared with the earlier report ({old.get('generated', '?')})",
        "",
        "| split | metric | before | after | |",
        "|---|---|---|---|---|",
    ]
    for split in REPORTED:
        for attr, label, _ in DEFINITIONS:
            a, b = _value(before["metrics"][split][attr]), _value(after["metrics"][split][attr])
            if abs(a - b) > 1e-9:
                lines.append(f"| {split} | {label} | {a:.3f} | {b:.3f} | {_verdict(attr, a, b)} |")
    was = {c["id"]: c for c in before["cases"]}
    flipped = [
        (c, was[c["id"]])
        for c in after["cases"]
        if c["id"] in was and c["correct"] != was[c["id"]]["correct"]
    ]
    lines += ["", f"Cases that flipped: {len(flipped)}", ""]
    for case, prior in flipped:
        direction = "now right" if case["correct"] else "now WRONG"
        lines.append(
            f"- {direction}: {case['id']} ({case['category']}) {prior['kind']} -> "
            f"{case['kind']}: {case['question']}"
        )
    return "\n".join(lines)


def _verdict(attr: str, before: float, after: float) -> str:
    if attr in ("mean_quotes", "mean_quote_chars"):
        return "changed"  # neither more nor fewer quotes is better in itself
    better = after < before if attr in ("over_refusal", "dose_leaks") else after > before
    return "improved" if better else "regressed"


def _value(entry: Any) -> float:
    return float(entry["value"]) if isinstance(entry, dict) else float(entry)
