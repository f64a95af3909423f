"""The embedding model's batcher: concurrent questions encoded together, never lost."""

import threading
import time

import numpy as np
import pytest

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
