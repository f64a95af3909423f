"""Guards of the test suite itself: a CI run cannot pass by skipping what it claims to test."""

import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def _browser_test(**env: str) -> subprocess.CompletedProcess:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("KETABOT_")}
    environment.update(env, KETABOT_TEST_CHROMIUM="/nonexistent/chromium")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--durations=0",
            "tests/test_browser.py::test_title_language_and_keyboard_use",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=environment,
    )


def test_a_required_browser_that_is_missing_fails_the_browser_tests():
    result = _browser_test(KETABOT_REQUIRE_BROWSER="1")
    assert result.returncode == 1, result.stdout[-2000:]
    assert "is missing" in result.stdout and "1 error" in result.stdout


def test_without_the_requirement_a_missing_browser_is_skipped():
    result = _browser_test()
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 skipped" in result.stdout
