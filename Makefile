# LSTM, Gate by Gate: `make book` builds the book, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JB_FLAGS := --builder html -W -n --keep-going
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))

.PHONY: book test notebooks serve bench mutants lint unit nbval book-strict browser browser-tests chromium clean help \
	lab clean-venv lab-check browser-then-lab

help:
	@echo "make book       build the HTML book into _build/html"
	@echo "make test       every test: lint, unit tests, nbval on every notebook, strict build, browser,"
	@echo "                the notebooks in a clean venv, make lab"
	@echo "make notebooks  re-execute every notebook in place (outputs and widget state)"
	@echo "make serve      preview the built book on http://127.0.0.1:8000"
	@echo "make lab        add JupyterLab to .venv and open the book's notebooks on 127.0.0.1"
	@echo "make bench      run the benchmarks in bench/ (BENCH_ARGS=--full: also make book, make test)"
	@echo "make mutants    mutation testing of lstmlib (slow; not part of make test)"

# --- environments ----------------------------------------------------------------------------
$(BIN)/activate:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.book-deps: requirements.txt constraints.txt pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev-deps: requirements-dev.txt constraints.txt $(VENV)/.book-deps
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

$(VENV)/.lab-deps: requirements-lab.txt constraints.txt $(VENV)/.book-deps
	$(BIN)/pip install --quiet -r requirements-lab.txt -c constraints.txt
	touch $@

# --- the book --------------------------------------------------------------------------------
book: $(VENV)/.book-deps
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "The book is at $(CURDIR)/_build/html/index.html"

notebooks: $(VENV)/.book-deps
	cd book && for nb in $(notdir $(NOTEBOOKS)); do \
	  ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=python3 \
	    --ExecutePreprocessor.record_timing=False "$$nb" || exit 1; \
	done

serve: book
	$(BIN)/python -m http.server 8000 --bind 127.0.0.1 --directory _build/html

# JupyterLab on this machine only (127.0.0.1), in the notebooks' folder; it prints the URL with its
# token. LAB_ROOT and LAB_FLAGS (e.g. --no-browser --port=8890) are for the tests. Jupyter refuses
# to run as root unless told, as in a container or CI.
LAB_ROOT ?= book
LAB_FLAGS ?=
lab: $(VENV)/.lab-deps
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$(LAB_ROOT)" \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_FLAGS)

# --- tests -----------------------------------------------------------------------------------
# The browser tests (then make lab's check) and the clean-venv run share the two cores: each alone
# leaves about half of them idle (pages settling, pip installing).
test: lint unit nbval book-strict $(VENV)/.lab-deps chromium
	$(MAKE) --no-print-directory -j2 --output-sync=target browser-then-lab clean-venv

browser-then-lab: browser-tests
	$(MAKE) --no-print-directory lab-check

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .

# The unit tests and the notebooks run on two workers (pytest-xdist); each notebook stays on one
# worker (--dist loadscope), its cells in order in one kernel. The browser tests stay on one: split
# by file, the build-twice test took the cores from the pages' tests (6 min 0 s against 5 min 32 s).
unit: $(VENV)/.dev-deps
	$(BIN)/pytest tests -q -n 2 -m "not browser and not built and not install and not lab"

nbval: $(VENV)/.dev-deps
	$(BIN)/pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
	  -p no:randomly -q -n 2 --dist loadscope $(NOTEBOOKS)

book-strict: $(VENV)/.book-deps
	rm -rf _build/html
	$(BIN)/jupyter-book build . $(JB_FLAGS)

browser: book-strict
	$(MAKE) --no-print-directory browser-tests

# the browser tests on the book as it is built in _build/html
browser-tests: $(VENV)/.dev-deps chromium
	$(BIN)/pytest tests -q -m "browser or built"

# lstmlib installed from a git clone (not editable) into a new venv that has only a kernel, and
# every notebook executed there: a dependency missing from pyproject.toml fails here.
clean-venv: $(VENV)/.dev-deps
	$(BIN)/pytest tests -q -m install

# `make lab` started by the tests: a notebook fetched over HTTP, and opened and saved in Chromium.
lab-check: $(VENV)/.dev-deps $(VENV)/.lab-deps chromium
	$(BIN)/pytest tests -q -m lab

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, where a machine sets them, can pick a slower OpenBLAS
# kernel: they are unset for the benchmark alone (never for tests), and the report says so.
# BENCH_ARGS=--full also times `make book` from clean and `make test`.
bench: $(VENV)/.dev-deps
	BENCH_WAS_OPENBLAS_CORETYPE="$${OPENBLAS_CORETYPE-}" BENCH_WAS_OPENBLAS_L2_SIZE="$${OPENBLAS_L2_SIZE-}" \
	  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python -m bench $(BENCH_ARGS)

# Mutation testing (setup.cfg [mutmut]): every mutant of lstmlib's numerical modules against the
# unit tests that cover it, then the score into bench/results/mutants.{json,md} (the Performance
# page includes it). mutants/ is mutmut's working copy; it ignores itself for git.
# Each of the two mutant workers gets one BLAS thread: with two each, four threads fight for two
# cores. Every mutant starts a pytest session; the plugins the unit tests do not use are left out of
# it (pytest's unraisable-exception check alone spent half a second per mutant in gc.collect).
# They go in PYTEST_ADDOPTS, not in setup.cfg: mutmut restarts from scratch when its own pytest
# arguments change, and keeps its verdicts when only this does.
MUTANT_PYTEST_ADDOPTS := -p no:unraisableexception -p no:threadexception -p no:xdist \
	-p no:xdist.looponfail -p no:nbval -p no:anyio
mutants: $(VENV)/.dev-deps
	mkdir -p mutants && printf '*\n' > mutants/.gitignore
	env -u PYTHONPATH OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTEST_ADDOPTS="$(MUTANT_PYTEST_ADDOPTS)" \
	  $(BIN)/mutmut run --max-children 2
	$(BIN)/python -m bench.mutation

clean:
	rm -rf _build

# The character model's weights that book/char-model.ipynb loads: one deterministic training run
# (fixed seed, BLAS on one thread), about 10 CPU minutes. The test suite reruns its first steps.
.PHONY: charmodel
charmodel: $(VENV)/.book-deps
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python -m lstmlib.charmodel lstmlib/data/charmodel.npz
