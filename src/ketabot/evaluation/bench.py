"""``ketabot bench``: speed and scale figures, printed and written to bench.json.

No figure here is asserted by a test: wall-clock numbers on a shared
machine are for people to read, not for CI to gate on.

* cold start: process start to first answer, where it goes, and whether PyTorch was imported;
* ingest: chunks per second next to the model's raw ``encode`` throughput on the
  same chunks, and a re-ingest of an unchanged corpus;
* query latency by stage on the real corpus (the bot's own stage marks);
* scale: the same query path over synthetic corpora of 10,000 and 100,000
  chunks (random vectors, real sentences), with the plain LangChain retrieval
  on the same collection for comparison, and memory;
* HTTP: 1, 4 and 16 concurrent ``gradio_client`` callers against the real server, then
  1, 4, 16 and 64 concurrent clients of the JSON API (``POST /api/v1/ask``, keep-alive
  connections from a lean asyncio client, so the load costs the shared CPU little), each
  request a question no earlier request asked, so no cache answers it; and the server's memory.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ketabot.config import Settings
from ketabot.evaluation.procs import free_port, wait_until_serving
from ketabot.timing import STAGES, Recorder
from ketabot.types import Chunk

Row = dict[str, Any]


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of ``values`` (in the unit given)."""
    ordered = sorted(values)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0}
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
    }


def rss_mb(pid: int | str = "self") -> dict[str, float]:
    """Resident memory now and at its peak, in MiB (Linux /proc)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return {"rss_mb": fields.get("VmRSS", 0.0), "peak_rss_mb": fields.get("VmHWM", 0.0)}


# ---------------------------------------------------------------- cold start


COLD_START = """
import json, sys, time
t0 = time.perf_counter()
from ketabot.bot import Bot
from ketabot.config import load_settings
t1 = time.perf_counter()
bot = Bot(load_settings(home={home!r}, corpus={corpus!r}))
t2 = time.perf_counter()
bot.retriever
t3 = time.perf_counter()
kind = bot.ask("How does ketamine work for nerve pain?").kind.value
t4 = time.perf_counter()
print(json.dumps(dict(import_s=t1 - t0, load_model_s=t2 - t1, open_index_s=t3 - t2,
                      first_ask_s=t4 - t3, kind=kind, torch="torch" in sys.modules,
                      embedder=type(bot.embedder).__name__)))
"""


def cold_start(settings: Settings) -> Row:
    """Seconds from a new process to its first answer, and where they go."""
    code = COLD_START.format(home=str(settings.home), corpus=str(settings.corpus))
    started = time.perf_counter()
    phases = json.loads(_python(code))
    total = time.perf_counter() - started
    inside = sum(v for k, v in phases.items() if k.endswith("_s"))
    return {"first_answer_s": total, "interpreter_s": total - inside, **phases}


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
    )
    return done.stdout.strip().splitlines()[-1]


# ---------------------------------------------------------------- ingest


def ingest_speed(settings: Settings, embedder: Any) -> Row:
    """Full ingest into a fresh index, the model's raw encode rate, and a no-op re-ingest."""
    from ketabot.chunking import chunk_corpus
    from ketabot.corpus import load_corpus
    from ketabot.index import Index, connect

    chunks = chunk_corpus(load_corpus(settings.corpus))
    texts = [c.search_text for c in chunks]
    started = time.perf_counter()
    embedder.encode(texts)
    raw = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(connect(settings.model_copy(update={"home": Path(tmp)})), "bench")
        first = index.sync(chunks, embedder, rebuild=True)
        again = index.sync(chunks, embedder)
    return {
        "chunks": len(chunks),
        "ingest_chunks_per_s": len(chunks) / first.seconds,
        "raw_encode_chunks_per_s": len(chunks) / raw,
        "reingest_s": again.seconds,
        "reingest_added": again.added,
    }


# ---------------------------------------------------------------- query stages


def query_stages(bot: Any, questions: Sequence[str]) -> Row:
    """Per-stage p50/p95 in ms over ``questions``, each asked once through ``bot.ask``."""
    if hasattr(bot.embedder, "clear_cache"):
        bot.embedder.clear_cache()  # every question pays for its own embedding
    per_stage: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
    for question in questions:
        recorder = Recorder()
        started = time.perf_counter()
        with recorder.active():
            bot.ask(question)
        recorder.seconds["total"] = time.perf_counter() - started
        for name in per_stage:
            per_stage[name].append(recorder.seconds.get(name, 0.0) * 1000)
    return {name: percentiles(values) for name, values in per_stage.items()}


# ---------------------------------------------------------------- scale


class SyntheticEmbedder:
    """Random unit vectors keyed by text: builds a large index in minutes, not hours.

    It takes the real model's name and size so the bot opens the index with the real model
    for questions; dense results are meaningless, but every stage does its real work.
    """

    def __init__(self, name: str, dimension: int) -> None:
        self.name, self.dimension = name, dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One random unit vector per text, the same for the same text."""
        rows = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            rows[i] = np.random.default_rng(zlib.crc32(text.encode())).standard_normal(
                self.dimension
            )
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def synthetic_chunks(real: Sequence[Chunk], count: int, seed: int = 7) -> list[Chunk]:
    """``count`` chunks made of the corpus's own sentences, shuffled, about real chunk size."""
    from ketabot.text import sentences

    pool = [s for c in real for s in sentences(c.text)]
    sections = [c.section for c in real]
    rng = random.Random(seed)
    chunks = []
    for i in range(count):
        text = " ".join(rng.sample(pool, k=rng.randint(2, 5)))
        doc = f"synthetic-{i // 40:05d}"
        chunks.append(
            Chunk(
                f"{doc}:{i:06d}",
                doc,
                f"Synthetic article {i // 40}",
                rng.choice(sections),
                text,
                0,
                i % 40,
            )
        )
    return chunks


def scale(settings: Settings, embedder: Any, count: int, questions: Sequence[str]) -> Row:
    """The query path and the baseline's retrieval over ``count`` synthetic chunks."""
    from ketabot.bot import Bot
    from ketabot.chunking import chunk_corpus
    from ketabot.corpus import load_corpus
    from ketabot.index import Index, connect

    chunks = synthetic_chunks(chunk_corpus(load_corpus(settings.corpus)), count)
    with tempfile.TemporaryDirectory() as tmp:
        # Random vectors never clear the relevance floors; without them every question goes
        # through every stage, which is what the cost measurement needs.
        floors = {"relevance_floor": -1.0, "answer_threshold": 0.0}
        local = settings.model_copy(
            update={
                "home": Path(tmp),
                "collection": "scale",
                "retrieval": settings.retrieval.model_copy(update=floors),
            }
        )
        index = Index(connect(local), "scale")
        started = time.perf_counter()
        index.sync(chunks, SyntheticEmbedder(embedder.name, embedder.dimension))
        built = time.perf_counter() - started
        memory_before = rss_mb()
        bot = Bot(local, embedder=embedder)
        started = time.perf_counter()
        bot.retriever  # noqa: B018  (open the snapshot and build BM25 now)
        opened = time.perf_counter() - started
        bot.ask("warm up: how does ketamine work?")
        stages = query_stages(bot, questions)
        baseline = _baseline_retrieval(bot, embedder, questions)
        memory = rss_mb()
    return {
        "chunks": count,
        "build_s": built,
        "open_s": opened,
        "stages_ms": stages,
        "baseline_retrieval_ms": baseline,
        "rss_mb": memory["rss_mb"],
        "rss_growth_mb": memory["rss_mb"] - memory_before["rss_mb"],
    }


def _langchain(bot: Any, questions: Sequence[str]) -> Row:
    """LangChain's bare ``similarity_search`` on the real index, measured in the same run.

    The embedding cache is emptied first, as for the bot: both pay for every embedding.
    """
    if hasattr(bot.embedder, "clear_cache"):
        bot.embedder.clear_cache()
    return {"langchain_top3": _baseline_retrieval(bot, bot.embedder, questions)}


def _baseline_retrieval(bot: Any, embedder: Any, questions: Sequence[str]) -> dict[str, float]:
    """LangChain's ``similarity_search(k=3)`` on the same collection, embedding included."""
    from langchain_chroma import Chroma

    from ketabot.evaluation.baseline import LangChainEmbeddings

    store = Chroma(
        client=bot.index.client,
        collection_name=bot.retriever.snapshot.generation,
        embedding_function=LangChainEmbeddings(embedder),
        create_collection_if_not_exists=False,
    )
    times = []
    for question in questions:
        started = time.perf_counter()
        store.similarity_search(question, k=3)
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


# ---------------------------------------------------------------- HTTP


def http(
    settings: Settings,
    questions: Sequence[str],
    callers: Sequence[int] = (1, 4, 16),
    clients: Sequence[int] = (1, 4, 16, 64),
) -> Row:
    """Start the real server: time to first answer, Gradio's callers, the JSON API's clients."""
    from gradio_client import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(settings),
    )
    try:
        wait_until_serving(f"{url}/config", process)
        client = Client(url, verbose=False)
        client.predict(question=questions[0], history=[], api_name="/ask")
        row: Row = {"start_to_first_answer_s": time.perf_counter() - started, "callers": {}}
        for n in callers:
            row["callers"][str(n)] = _load(url, questions, n)
        # Each level of the JSON load asks questions no earlier request asked (none cached).
        fresh = list(questions[sum(callers) * 8 :])
        row["json_api"] = {}
        for n in clients:
            row["json_api"][str(n)] = json_api_load(port, fresh, n)
            fresh = fresh[row["json_api"][str(n)]["asked"] :]
        row.update(rss_mb(process.pid))
        return row
    finally:
        process.terminate()
        process.wait(timeout=30)


def json_api_load(port: int, questions: Sequence[str], clients: int, requests: int = 256) -> Row:
    """``clients`` concurrent keep-alive clients asking ``requests`` different questions.

    A warm-up round at the same concurrency comes first, its figures kept apart: the first
    burst at a new level of concurrency pays once for memory the process has not touched yet
    (measured: p95 about 230 ms at 16 clients, then about 125 ms from the next round on).
    """
    import asyncio

    async def client(offset: int, per_client: int, times: list[float], statuses: Row) -> None:
        # ``offset`` is this client's first question; questions repeat only when they run out.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in range(per_client):
                question = questions[(offset + i) % len(questions)]
                begun = time.perf_counter()
                status = await _post(reader, writer, port, {"question": question})
                times.append((time.perf_counter() - begun) * 1000)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
        finally:
            writer.close()

    def round_of(per_client: int, skip: int) -> Row:
        times: list[float] = []
        statuses: Row = {}

        async def all_clients() -> float:
            begun = time.perf_counter()
            starts = (skip + n * per_client for n in range(clients))
            await asyncio.gather(*(client(s, per_client, times, statuses) for s in starts))
            return time.perf_counter() - begun

        wall = asyncio.run(all_clients())
        return {"requests": len(times), "per_s": len(times) / wall, "statuses": statuses} | (
            percentiles(times)
        )

    warm_up = round_of(4, 0)
    measured = round_of(max(8, requests // clients), warm_up["requests"])
    return measured | {
        "warm_up_p95": warm_up["p95"],
        "asked": warm_up["requests"] + measured["requests"],
    }


async def _post(reader: Any, writer: Any, port: int, body: Row) -> int:
    """One HTTP/1.1 POST on a kept-alive connection; returns the status, reads the body."""
    payload = json.dumps(body).encode()
    writer.write(
        b"POST /api/v1/ask HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (port, len(payload), payload)
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return status


def _load(url: str, questions: Sequence[str], callers: int, per_caller: int = 8) -> Row:
    from gradio_client import Client

    times: list[float] = []
    lock = threading.Lock()

    def caller(offset: int) -> None:
        client = Client(url, verbose=False)
        for i in range(per_caller):
            question = questions[(offset * per_caller + i) % len(questions)]
            begun = time.perf_counter()
            client.predict(question=question, history=[], api_name="/ask")
            with lock:
                times.append((time.perf_counter() - begun) * 1000)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"requests": len(times), "per_s": len(times) / wall, **percentiles(times)}


def _env(settings: Settings) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.update(
        KETABOT_HOME=str(settings.home),
        KETABOT_CORPUS=str(settings.corpus),
        KETABOT_FEEDBACK_FILE=str(Path(tempfile.gettempdir()) / "ketabot-bench.jsonl"),
        # Capacity, not the fair-use limit: every request comes from this one address.
        KETABOT_API__REQUESTS_PER_MINUTE="0",
    )
    return env


# ---------------------------------------------------------------- the whole run


def run(
    settings: Settings,
    bot: Any,
    questions: Sequence[str],
    sizes: Sequence[int],
    say: Callable[[str], None] = print,
    only: Sequence[str] = (),
) -> Row:
    """Every section (or those named in ``only``), in order, printing as it goes."""
    result: Row = {"generated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    sections: list[tuple[str, Callable[[], Row]]] = [
        ("cold_start", lambda: cold_start(settings)),
        ("ingest", lambda: ingest_speed(settings, bot.embedder)),
        ("query", lambda: query_stages(bot, questions) | _langchain(bot, questions)),
        *[
            (f"scale_{n}", (lambda n=n: scale(settings, bot.embedder, n, questions[:60])))
            for n in sizes
        ],
        ("http", lambda: http(settings, questions)),
    ]
    for name, measure in sections:
        if only and not any(name.startswith(wanted) for wanted in only):
            continue
        say(f"[bench] {name} ...")
        started = time.perf_counter()
        result[name] = measure()
        say(f"[bench] {name} done in {time.perf_counter() - started:.0f} s")
    if "http" in result:
        result["serving_memory"] = {"peak_rss_mb": result["http"]["peak_rss_mb"]}
    return result


def table(r: Row) -> str:
    """The bench result as text tables, for the sections it has."""
    parts = [
        part(r)
        for key, part in (
            ("cold_start", _cold_table),
            ("ingest", _ingest_table),
            ("query", _query_table),
            ("http", _http_table),
        )
        if key in r
    ]
    return "\n".join(parts)


def _cold_table(r: Row) -> str:
    cold = r["cold_start"]
    lines = [
        "Cold start (a new process, up to its first answer)",
        f"  process start to first answer      {cold['first_answer_s']:.1f} s",
        f"    interpreter start and exit       {cold['interpreter_s']:.1f} s",
        f"    importing ketabot (Chroma, ONNX) {cold['import_s']:.1f} s",
        f"    building the Bot (model, Chroma) {cold['load_model_s']:.1f} s",
        f"    opening the index (BM25 built)   {cold['open_index_s']:.1f} s",
        f"    the first answer                 {cold['first_ask_s']:.1f} s",
        f"  embedding with {cold['embedder']}; PyTorch imported: {_yes(cold['torch'])}",
    ]
    return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _ingest_table(r: Row) -> str:
    ingest = r["ingest"]
    lines = [
        "Ingest (real corpus)",
        f"  ingest                             {ingest['ingest_chunks_per_s']:.1f} chunks/s "
        f"({ingest['chunks']} chunks, each also embedded sentence by sentence)",
        f"  raw embedder encode (batches)      {ingest['raw_encode_chunks_per_s']:.1f} chunks/s",
        f"  re-ingest unchanged                {ingest['reingest_s']:.2f} s, "
        f"{ingest['reingest_added']} embedded",
    ]
    return "\n".join(lines)


def _query_table(r: Row) -> str:
    query = r["query"]
    lines = ["Query latency by stage, ms (p50 / p95), education questions (every stage runs)"]
    scales = sorted(k for k in r if k.startswith("scale_"))
    header = f"  {'stage':16}{'real corpus':>16}" + "".join(
        f"{r[k]['chunks']:>14,} ch." for k in scales
    )
    lines.append(header)
    for stage in (*STAGES, "total"):
        cells = [query[stage]] + [r[k]["stages_ms"][stage] for k in scales]
        lines.append(
            f"  {stage:16}" + "".join(f"{c['p50']:>8.1f} /{c['p95']:>6.1f}" for c in cells)
        )
    base = [query["langchain_top3"]] + [r[k]["baseline_retrieval_ms"] for k in scales]
    lines.append(
        f"  {'LangChain top-3':16}" + "".join(f"{c['p50']:>8.1f} /{c['p95']:>6.1f}" for c in base)
    )
    ratio = query["total"]["p50"] / (query["langchain_top3"]["p50"] or 1.0)
    lines.append(
        f"  a warm answer (p50) costs {ratio:.1f}x LangChain's bare similarity_search(k=3)"
    )
    for k in scales:
        s = r[k]
        lines.append(
            f"  {s['chunks']:,} chunks: built in {s['build_s']:.0f} s, opened in "
            f"{s['open_s']:.1f} s, RSS {s['rss_mb']:.0f} MiB "
            f"(+{s['rss_growth_mb']:.0f} MiB for the index)"
        )
    return "\n".join(lines)


def _http_table(r: Row) -> str:
    h = r["http"]
    lines = [
        "Over HTTP (gradio_client, real server)",
        f"  python app.py to first answer      {h['start_to_first_answer_s']:.1f} s",
    ]
    for n, row in h["callers"].items():
        lines.append(
            f"  {n:>2} concurrent callers            {row['per_s']:.1f} req/s, "
            f"p50 {row['p50']:.0f} ms, p95 {row['p95']:.0f} ms ({row['requests']} requests)"
        )
    lines.append(
        "JSON API (POST /api/v1/ask, keep-alive clients, every request a question not asked "
        "before; after a warm-up round at each level)"
    )
    for n, row in h.get("json_api", {}).items():
        others = sum(v for k, v in row["statuses"].items() if k != "200")
        lines.append(
            f"  {n:>2} concurrent clients            {row['per_s']:.1f} req/s, "
            f"p50 {row['p50']:.0f} ms, p95 {row['p95']:.0f} ms ({row['requests']} requests"
            + (f"; warm-up p95 {row['warm_up_p95']:.0f} ms" if "warm_up_p95" in row else "")
            + (f", {others} not 200)" if others else ")")
        )
    lines.append(f"  server peak RSS                    {h['peak_rss_mb']:.0f} MiB")
    return "\n".join(lines)


def write(result: Row, path: Path) -> None:
    """bench.json."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
