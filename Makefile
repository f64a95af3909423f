# ketabot: two commands on a fresh machine.
#   make run   - set up .venv, index the corpus, start the chat page
#   make test  - set up .venv when needed, run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# CPU PyTorch first, pinned: left to pip, a bare `torch` requirement pulls the CUDA build (GBs).
TORCH  := torch==2.13.0
# The stamp's name changes with pyproject.toml, so a changed dependency reinstalls.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test install ingest eval bench screenshots lint clean

run: ingest
	$(BIN)/python app.py

# Two workers (pytest-xdist), one per core; --dist loadfile keeps each file on one worker, so a
# file's servers start once. One thread each for torch (OMP_NUM_THREADS=1, inherited by the
# servers the tests start): two workers each spinning two threads on two cores wasted a fifth
# of the CPU (measured: 13:02 -> 10:54 for the whole suite).
TEST_WORKERS ?= 2

test: install
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile


install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

ingest: install
	$(BIN)/ketabot ingest

eval: install
	$(BIN)/ketabot eval --baseline --out eval/reports

bench: install
	$(BIN)/ketabot bench

# The README's pictures of the page (English and Spanish, light and dark, desktop and phone).
screenshots: install
	$(BIN)/python docs/screenshots.py

lint: install
	$(BIN)/ruff check src tests eval docs
	$(BIN)/ruff format --check src tests eval docs
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .ketabot .pytest_cache .mypy_cache .ruff_cache test-artifacts
