"""The embedding model as an ONNX graph, exported once from the local sentence-transformers folder.

Serving with ONNX Runtime instead of PyTorch is what makes a cold start short: importing
PyTorch, transformers and sentence-transformers takes about 4.5 s on a 2-core machine,
ONNX Runtime and tokenizers 0.2 s, and the graph computes the same vectors (checked at
export, within 1e-4; measured 2e-7). The graph includes mean pooling and normalisation,
so it maps token ids straight to unit vectors.

Only this module and :mod:`ketabot.embeddings` know about the export; it needs PyTorch and
``onnx``, imported here only when a graph is built (once per model, during set-up).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ketabot.errors import ModelLoadError

# Part of the cache key: a change to how the graph is built makes a new file.
EXPORT_VERSION = "1"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Texts the exported graph must embed like sentence-transformers does: short, long (truncated),
# Spanish, punctuation only.
PROBES = (
    "How does ketamine work for nerve pain?",
    "¿La ketamina es adictiva? Tengo miedo de depender de algo otra vez.",
    "Ketamine is an NMDA receptor antagonist. " * 60,
    "?!",
)
TOLERANCE = 1e-4


@dataclass(frozen=True)
class Layout:
    """What a sentence-transformers folder must hold for its graph to be exported."""

    folder: Path
    max_length: int
    pad_token: str

    @classmethod
    def of(cls, folder: Path) -> Layout | None:
        """The folder's layout when it is a BERT encoder with mean pooling, else ``None``."""
        try:
            modules = _json(folder / "modules.json")
            pooling = _json(folder / _pooling_path(modules) / "config.json")
            config = _json(folder / "config.json")
        except (OSError, ValueError, KeyError):
            return None
        means = pooling.get("pooling_mode_mean_tokens") and not any(
            v
            for k, v in pooling.items()
            if k.startswith("pooling_mode_") and "mean_tokens" not in k
        )
        if config.get("model_type") != "bert" or not means:
            return None
        if not (folder / "tokenizer.json").is_file():
            return None
        bert = _read(folder / "sentence_bert_config.json")
        tokens = _read(folder / "tokenizer_config.json")
        return cls(
            folder, int(bert.get("max_seq_length", 256)), str(tokens.get("pad_token", "[PAD]"))
        )

    def cache_key(self) -> str:
        """Changes whenever a file of the model (or the way graphs are built) changes."""
        digest = hashlib.sha256(EXPORT_VERSION.encode())
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(
                f"{path.relative_to(self.folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
            )
        return digest.hexdigest()[:16]


def graph_path(layout: Layout, cache: Path, name: str) -> Path:
    """Where the model's graph is kept in ``cache``."""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[-60:]
    return cache / f"{stem}-{layout.cache_key()}.onnx"


def export(layout: Layout, target: Path, run: Callable[[Path, Sequence[str]], np.ndarray]) -> Path:
    """Build the graph at ``target`` (atomically), checked against sentence-transformers.

    ``run`` embeds texts with a graph file the way serving will (the caller's embedder).
    """
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelLoadError(f"cannot export the embedding model: {exc}") from None
    model = SentenceTransformer(str(layout.folder), device="cpu", local_files_only=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    try:
        _trace(torch, model[0].auto_model, partial)
        got = _check(run(partial, PROBES), model)
        if got > TOLERANCE:
            raise ModelLoadError(f"the exported graph differs from the model by {got:.2g}")
        os.replace(partial, target)  # two processes exporting at once both end with a whole file
    finally:
        partial.unlink(missing_ok=True)
    return target


def _trace(torch: Any, encoder: Any, out: Path) -> None:
    """Trace encoder + mean pooling + normalisation with dynamic batch and length."""

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            hidden = self.encoder(
                input_ids=ids, attention_mask=mask, token_type_ids=types
            ).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    dummy = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing warns that shape checks become constants: true here, as every input has a
        # mask the size of its ids (and the graph is checked against the model after).
        warnings.simplefilter("ignore")
        # The TorchScript exporter: the newer one needs onnxscript and gives the same graph here.
        torch.onnx.export(
            Pooled().eval(),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(out),
            input_names=list(INPUTS),
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


def _check(ours: np.ndarray, model: Any) -> float:
    """The largest difference between the graph's vectors and the model's on the probes."""
    theirs = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
    return float(np.abs(ours - np.asarray(theirs, dtype=np.float32)).max())


def _pooling_path(modules: list[dict[str, Any]]) -> str:
    return next(m["path"] for m in modules if m["type"].endswith("Pooling"))


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = _json(path)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
