"""The embedding model: its batcher, and the ONNX graph every process serves with."""

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from conftest import CORPUS, indexed_home, subprocess_env
from ketabot.embeddings import Batcher


class SlowModel:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def __call__(self, texts):
        self.calls.append(list(texts))
        time.sleep(0.05)
        if self.fail:
            raise RuntimeError("model failed")
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


def _together(batcher, texts_per_thread):
    results, errors = {}, []

    def ask(n, texts):
        try:
            results[n] = batcher.vectors(texts)
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(n, t)) for n, t in enumerate(texts_per_thread)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results, errors


def test_a_lone_call_is_encoded_at_once():
    model = SlowModel()
    vectors = Batcher(model).vectors(["abc", "de"])
    assert model.calls == [["abc", "de"]]
    assert [v[0] for v in vectors] == [3.0, 2.0]


def test_concurrent_calls_share_batches_and_each_gets_its_own_vectors():
    model = SlowModel()
    asked = [[f"question {n:02d}", "shared"] for n in range(16)]
    results, errors = _together(Batcher(model), asked)
    assert not errors and len(results) == 16
    assert len(model.calls) < 16  # batched: far fewer model calls than callers
    for n, texts in enumerate(asked):
        assert [v[0] for v in results[n]] == [float(len(t)) for t in texts]
    encoded = [text for call in model.calls for text in call]
    assert encoded.count("shared") == len(model.calls)  # once per batch, not per caller


def test_a_failure_reaches_every_waiting_caller_and_the_next_batch_runs():
    model = SlowModel(fail=True)
    batcher = Batcher(model)
    results, errors = _together(batcher, [[f"q{n}"] for n in range(6)])
    assert len(errors) == 6 and not results
    model.fail = False
    assert [v[0] for v in batcher.vectors(["after"])] == [5.0]


@pytest.mark.slow
def test_the_real_model_gives_the_same_vectors_batched_or_alone(embedder):
    texts = [f"Is ketamine safe for nerve pain number {n}?" for n in range(8)]
    alone = np.vstack([embedder.encode([t]) for t in texts])
    results, _ = _together(Batcher(embedder.encode), [[t] for t in texts])
    together = np.vstack([results[n][0] for n in range(8)])
    assert np.allclose(alone, together, atol=1e-5)


# ---------------------------------------------------------------- the ONNX graph


def _texts() -> list[str]:
    from ketabot.corpus import load_corpus

    sentences = [line for d in load_corpus(CORPUS) for line in d.body.splitlines() if line]
    return [*sentences[:150], "¿Es adictiva la ketamina?", "?!", "ketamine " * 400]


@pytest.mark.slow
def test_the_onnx_graph_gives_sentence_transformers_vectors(embedder):
    from ketabot.embeddings import OnnxEmbedder, SentenceTransformerEmbedder

    assert isinstance(embedder, OnnxEmbedder)  # what every process serves with
    texts = _texts()
    reference = SentenceTransformerEmbedder().encode(texts)
    ours = embedder.encode(texts, batch_size=16)  # padded batches of mixed lengths
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() < 1e-4
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_the_graph_is_exported_once_and_a_broken_one_is_built_again(tmp_path):
    from ketabot.embeddings import OnnxEmbedder, load_embedder

    first = load_embedder(cache=tmp_path)
    (graph,) = tmp_path.glob("*.onnx")
    made = graph.stat().st_mtime_ns
    again = load_embedder(cache=tmp_path)
    assert isinstance(again, OnnxEmbedder) and graph.stat().st_mtime_ns == made
    graph.write_bytes(b"not a graph")
    rebuilt = load_embedder(cache=tmp_path)
    assert isinstance(rebuilt, OnnxEmbedder)
    text = ["How does ketamine work for nerve pain?"]
    assert np.abs(rebuilt.encode(text) - first.encode(text)).max() < 1e-6
    assert [p.name for p in tmp_path.iterdir()] == [graph.name]  # no partial files left


def test_a_model_the_graph_cannot_hold_runs_on_sentence_transformers(tmp_path, monkeypatch):
    from ketabot import embeddings
    from ketabot.onnx_export import Layout

    (tmp_path / "config.json").write_text('{"model_type": "mpnet"}')
    assert Layout.of(tmp_path) is None  # not BERT, no pooling: not exported
    used = []

    class Loaded:
        def __init__(self, model: str) -> None:
            used.append(model)
            self.name = model

    monkeypatch.setattr(embeddings, "SentenceTransformerEmbedder", Loaded)
    assert isinstance(embeddings.load_embedder(str(tmp_path), cache=tmp_path / "cache"), Loaded)
    assert used == [str(tmp_path)] and not (tmp_path / "cache").exists()


def test_the_bundled_model_has_the_layout_the_graph_holds():
    from ketabot.embeddings import bundled_model_path
    from ketabot.onnx_export import Layout

    layout = Layout.of(bundled_model_path())
    assert layout is not None and layout.max_length == 256 and layout.pad_token == "[PAD]"


@pytest.mark.slow
def test_a_serving_bot_never_imports_pytorch(embedder):
    # The graph exists (the embedder fixture made it); a bot answering must not need torch.
    code = (
        "import sys; from ketabot.bot import Bot; from ketabot.config import load_settings\n"
        "bot = Bot.ready(load_settings(), say=lambda s: None)\n"
        "kind = bot.ask('How does ketamine work for nerve pain?').kind.value\n"
        "print(kind, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=subprocess_env(KETABOT_HOME=str(indexed_home()), KETABOT_CORPUS=str(CORPUS)),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split()[-3:] == ["answer", "False", "False"]
