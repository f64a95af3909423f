"""The benchmark's helpers; its figures are printed, never asserted (timings are noisy)."""

import numpy as np
import pytest

from conftest import CORPUS
from ketabot.chunking import chunk_corpus
from ketabot.corpus import load_corpus
from ketabot.evaluation.bench import (
    SyntheticEmbedder,
    percentiles,
    query_stages,
    rss_mb,
    synthetic_chunks,
)
from ketabot.timing import STAGES, Recorder, stage


def test_percentiles():
    assert percentiles([5, 1, 3]) == {"p50": 3, "p95": 5}
    assert percentiles([]) == {"p50": 0.0, "p95": 0.0}


def test_synthetic_corpus_is_made_of_real_sentences_and_is_repeatable():
    real = chunk_corpus(load_corpus(CORPUS))
    first, again = synthetic_chunks(real, 500), synthetic_chunks(real, 500)
    assert [c.text for c in first] == [c.text for c in again]
    assert len({c.id for c in first}) == 500
    corpus_text = " ".join(c.text for c in real)
    assert all(c.text.split(". ")[0].rstrip(".") in corpus_text for c in first[:50])


def test_synthetic_vectors_are_unit_length_and_stable():
    embedder = SyntheticEmbedder("m", 8)
    a, b = embedder.embed(["x", "y"]), embedder.embed(["x"])
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)
    assert np.allclose(a[0], b[0]) and not np.allclose(a[0], a[1])


def test_stage_marks_record_only_inside_a_recorder():
    with stage("dense search"):
        pass  # no recorder: nothing happens, nothing fails
    recorder = Recorder()
    with recorder.active(), stage("dense search"), stage("fusion"):
        pass
    assert set(recorder.seconds) == {"dense search", "fusion"}


def test_memory_is_read_from_proc():
    memory = rss_mb()
    assert 0 < memory["rss_mb"] <= memory["peak_rss_mb"]


@pytest.mark.slow
def test_query_stages_cover_the_real_path(bot):
    result = query_stages(bot, ["How does ketamine work for nerve pain?", "Is ketamine addictive?"])
    assert set(result) == {*STAGES, "total"}
    assert result["total"]["p50"] > 0 and result["composition"]["p50"] > 0


def test_a_part_of_the_bench_keeps_the_rest_of_the_tables():
    from ketabot.evaluation.bench import table

    http = {
        "start_to_first_answer_s": 4.2,
        "callers": {"1": {"per_s": 20.0, "p50": 40.0, "p95": 50.0, "requests": 8}},
        "json_api": {
            "16": {
                "per_s": 90.0,
                "p50": 100.0,
                "p95": 140.0,
                "requests": 256,
                "statuses": {"200": 250, "503": 6},
            },
        },
        "peak_rss_mb": 700.0,
    }
    text = table({"http": http})
    assert "Cold start" not in text and "JSON API" in text
    assert "16 concurrent clients" in text and "6 not 200" in text
