import pytest

from conftest import make_settings
from ketabot.retrieval import LexicalIndex, fuse
from ketabot.types import Chunk


def _chunk(i: int, text: str) -> Chunk:
    return Chunk(f"d:{i}", "d", "T", None, text, 0, i)


def test_convex_fusion_blends_similarity_and_bm25(tmp_path):
    s = make_settings(tmp_path, retrieval={"dense_weight": 0.5})
    a, b, c = _chunk(1, "a"), _chunk(2, "b"), _chunk(3, "c")
    similarity = {"d:1": 0.9, "d:2": 0.5, "d:3": 0.2}
    passages = fuse([(a, 0.9), (b, 0.5)], [(c, 4.0), (b, 2.0)], similarity, s)
    relevance = {p.chunk.id: round(p.relevance, 3) for p in passages}
    assert relevance == {"d:1": 0.45, "d:2": 0.5, "d:3": 0.6}
    assert [p.chunk.id for p in passages] == ["d:3", "d:2", "d:1"]
    assert passages[0].dense_rank is None and passages[0].lexical_rank == 1


def test_rrf_fusion_adds_reciprocal_ranks(tmp_path):
    s = make_settings(tmp_path, retrieval={"fusion": "rrf", "rrf_k": 60})
    a, b = _chunk(1, "a"), _chunk(2, "b")
    passages = fuse([(a, 0.9), (b, 0.5)], [(b, 3.0)], {"d:1": 0.9, "d:2": 0.5}, s)
    assert passages[0].chunk.id == "d:2"
    assert passages[0].relevance == pytest.approx(1 / 62 + 1 / 61)


def test_bm25_finds_exact_rare_terms():
    chunks = [
        _chunk(0, "Ketamine can help complex regional pain syndrome (CRPS) and phantom limb pain."),
        _chunk(1, "Ketamine is an NMDA receptor antagonist that modulates glutamate."),
        _chunk(2, "Infusions are given slowly in a clinic with monitoring."),
    ]
    lexical = LexicalIndex(chunks)
    assert lexical.search("does it help crps?", 3)[0][0] == 0
    assert lexical.search("NMDA", 3)[0][0] == 1
    assert lexical.search("zzz unknown words", 3) == []


def test_focus_terms_are_the_specific_stems_and_how_many_the_corpus_knows():
    lexical = LexicalIndex([_chunk(0, "Infusions are given slowly in a clinic with monitoring.")])
    assert lexical.focus_terms("Does insurance cover infusions?") == (
        ("insur", "cover", "infus"),
        1,
    )
    assert lexical.focus_terms("What do you do?") == ((), 0)
    assert lexical.stems("Infusions are monitored.") == {"infus", "monitor"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "phrase"),
    [
        ("CRPS", "complex regional pain syndrome (CRPS)"),
        ("What is an NMDA antagonist?", "NMDA"),
        ("lozenge", "lozenge"),
        ("What do nerve damage symptoms feel like?", "Tingling and numbness"),
    ],
)
def test_exact_terms_and_paraphrases_find_their_passage(bot, question, phrase):
    top3 = [p.chunk.text for p in bot.search(question, limit=3)]
    assert any(phrase in text for text in top3)


@pytest.mark.slow
def test_questions_far_from_every_passage_are_not_worth_reading(bot):
    found = bot.retriever.search(bot.query("What is the capital of France?"))
    assert not found.answerable


@pytest.mark.slow
def test_the_compiled_bm25_backend_ranks_exactly_like_the_default():
    from conftest import CORPUS
    from ketabot.chunking import chunk_corpus
    from ketabot.corpus import load_corpus

    chunks = chunk_corpus(load_corpus(CORPUS))
    default, compiled = LexicalIndex(chunks), LexicalIndex(chunks, numba_from=1)
    assert (default.backend, compiled.backend) == ("numpy", "numba")
    for question in ["Does ketamine help CRPS?", "NMDA receptor glutamate", "lozenge or tablet"]:
        a, b = default.search(question, 10), compiled.search(question, 10)
        # equal scores may come in either order; the scores and who has them must match
        assert [round(s, 4) for _, s in a] == [round(s, 4) for _, s in b]
        assert {(i, round(s, 4)) for i, s in a[:-1]} <= {(i, round(s, 4)) for i, s in b}
