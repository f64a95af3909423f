"""Several replicas, one store: the real thing on loopback.

Debian's PostgreSQL holds the feedback, one `chroma run` the index, two `python app.py`
replicas serve, and Debian's nginx sits in front with `deploy/nginx.conf` (only its ports
and paths changed). An ingest run beside one replica is answered from by both without a
restart, and ratings given on both are read back by one `ketabot feedback`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import CORPUS, REQUIRE_BROWSER, ROOT, subprocess_env
from ketabot.evaluation.procs import free_port, wait_until_serving

pytestmark = pytest.mark.slow

NEW_FACT = "Cold compresses on the wrist soothed the tingling for the Hollowmere patients."
NEW_DOCUMENT = f"""---
id: hollowmere-tingling
title: Hollowmere Clinic notes on tingling
publisher: Hollowmere Clinic
date: 2026-11-01
---
# Tingling between visits

{NEW_FACT} The clinic's nurses showed each patient how to wrap the compress in a towel.
"""
NEW_QUESTION = "What soothed the tingling for the Hollowmere patients?"


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: as root, run them as the postgres user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port; yields its SQLAlchemy URL."""
    bindir = _postgres_bin()
    if bindir is None:
        if REQUIRE_BROWSER:  # CI installs it: missing is a failure
            pytest.fail("PostgreSQL is not installed (.ci/run installs it)")
        pytest.skip("PostgreSQL is not installed")
    # Not under pytest's folder: as root, that is closed to the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="ketabot-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "ketabot", "-A", "trust"]),
        **run,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log")]
    subprocess.run(_as_postgres([*start, "-w", "start"]), **run)
    try:
        yield f"postgresql://ketabot@127.0.0.1:{port}/postgres"
    finally:
        stop = [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _nginx(folder: Path, replicas: list[int]) -> Iterator[str]:
    """deploy/nginx.conf in front of ``replicas``, its ports and paths moved into ``folder``."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        if REQUIRE_BROWSER:
            pytest.fail("nginx is not installed (.ci/run installs it)")
        pytest.skip("nginx is not installed")
    port = free_port()
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    config = config.replace("127.0.0.1:7861", f"127.0.0.1:{replicas[0]}")
    config = config.replace("127.0.0.1:7862", f"127.0.0.1:{replicas[1]}")
    config = config.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    config = config.replace("/tmp/ketabot-nginx", str(folder / "nginx"))
    assert config.count(str(folder)) == 3, "deploy/nginx.conf changed its paths"
    path = folder / "nginx.conf"
    path.write_text(config)
    log = (folder / "nginx.log").open("wb")
    process = subprocess.Popen(
        [nginx, "-c", str(path), "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/healthz", process, seconds=30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _ketabot(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ketabot"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _ask(url: str, question: str) -> dict:
    request = urllib.request.Request(
        f"{url}/api/v1/ask",
        data=json.dumps({"question": question}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def _answered_by_api(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
        text = response.read().decode()
    found = re.search(
        r'^ketabot_http_requests_total\{route="api",status="200"\} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


def _rate_one_reply(browser, url: str, question: str) -> None:
    page = browser.new_page()
    page.goto(url)
    page.locator("#kb-question textarea").fill(question)
    page.locator("#kb-send").click()
    page.locator("button[data-kb-rate=up]").last.wait_for(timeout=60_000)
    page.locator("button[data-kb-rate=up]").last.click()
    page.locator("#kb-feedback-status", has_text="Thank").wait_for(timeout=60_000)
    page.close()


def test_two_replicas_behind_nginx_share_the_index_and_the_feedback(
    postgres, chroma_server, browser, tmp_path
):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    config = tmp_path / "ketabot.toml"
    config.write_text("[clinic]\nstore_feedback = true\n")
    shared = {
        "KETABOT_CONFIG": str(config),
        "KETABOT_CORPUS": str(corpus),
        "KETABOT_CHROMA_URL": chroma_server,
        "KETABOT_COLLECTION": "replicas",
        "KETABOT_DATABASE_URL": postgres,
        "KETABOT_INDEX_CHECK_SECONDS": "0.5",
    }
    _ketabot(subprocess_env(**shared, KETABOT_HOME=str(tmp_path / "ingest")), "ingest")

    ports, processes, logs = [free_port(), free_port()], [], []
    for n, port in enumerate(ports):
        log = (tmp_path / f"replica-{n}.log").open("wb")
        logs.append(log)
        env = subprocess_env(**shared, KETABOT_HOME=str(tmp_path / f"home-{n}"))
        processes.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "app.py"), "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
                env=env,
            )
        )
    replicas = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, process in zip(replicas, processes, strict=True):
            wait_until_serving(f"{url}/readyz", process, seconds=240)
        with _nginx(tmp_path, ports) as front:
            # Questions through nginx reach both replicas and get the contract.
            for _ in range(12):
                reply = _ask(front, "How does ketamine work for nerve pain?")
                assert reply["kind"] == "answer" and reply["disclaimer"]
            assert all(_answered_by_api(url) >= 1 for url in replicas)

            # An ingest beside replica 0 is answered from by both, without a restart.
            assert _ask(front, NEW_QUESTION)["kind"] == "not_found"
            (corpus / "hollowmere-tingling.md").write_text(NEW_DOCUMENT)
            env = subprocess_env(**shared, KETABOT_HOME=str(tmp_path / "home-0"))
            assert "1 added" in _ketabot(env, "ingest")
            for url in [*replicas, front]:
                deadline = time.monotonic() + 30
                while (reply := _ask(url, NEW_QUESTION))["kind"] != "answer":
                    assert time.monotonic() < deadline, f"{url} never answered from the new file"
                    time.sleep(0.5)
                assert NEW_FACT in [c["quote"] for c in reply["citations"]]

            # A rating on each replica's page, and the page works through nginx too.
            for url in [*replicas, front]:
                _rate_one_reply(browser, url, "Is ketamine addictive?")
        summary = _ketabot(subprocess_env(**shared, KETABOT_HOME=str(tmp_path)), "feedback")
        assert "3 ratings and 0 comments" in summary and "postgresql" in summary
        assert "127.0.0.1:" + postgres.rsplit(":", 1)[1] in summary
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for log in logs:
            log.close()
