import pytest

from conftest import EVAL
from ketabot.evaluation.cases import load_cases
from ketabot.evaluation.runner import run_bot


@pytest.mark.slow
def test_a_primed_run_gives_every_case_the_reply_an_unprimed_run_gives(bot):
    """Batch-embedding first (the suite's shortcut) must not change a single reply."""
    cases = load_cases(EVAL)
    sample = [c for c in cases if c.history][:40] + cases[::150]
    bot.embedder.clear_cache()
    primed = run_bot(bot, sample, primed=True)
    bot.embedder.clear_cache()
    unprimed = run_bot(bot, sample)
    assert len(primed) == len(sample) > 80
    for one, other in zip(primed, unprimed, strict=True):
        assert one.reply == other.reply, one.case.id
        assert one.ranking == other.ranking, one.case.id
