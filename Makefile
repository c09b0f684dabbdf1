# One-command entry points. `make publish` and `make test` do all the set-up on a fresh
# Debian machine (as root): Debian packages when missing, a virtualenv with the pinned
# requirements, then the job itself.

VENV    ?= .venv
PY      := $(VENV)/bin/python
DATA    ?= data/demo
OUT     ?= build
# The published demo is national-size (scale 1: the real municipal populations); tests use
# a small release of their own (tests/conftest.py).
SCALE   ?= 1
# Debian packages: LaTeX for the PDF working papers, poppler and chromium and LibreOffice
# for the reader tests.
APT_PKGS := texlive-xetex texlive-latex-extra texlive-latex-recommended \
            texlive-fonts-recommended texlive-lang-european latexmk fonts-freefont-otf xindy \
            poppler-utils chromium libreoffice-calc-nogui

.PHONY: help setup debs venv js publish test test-fast lint backtests backtests-update bench coverage quality-bias clean

help: ## list the targets with what they do
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

setup: debs venv js ## Debian packages, the virtualenv and the JavaScript of the reader tests

debs: ## install the missing Debian packages (LaTeX, poppler, chromium, LibreOffice)
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

venv: $(VENV)/.installed ## the virtualenv with the pinned requirements

# axe-core for the accessibility test (tests/test_accessibility.py), from the npm registry at
# the version of tests/js/package-lock.json; npm from Debian only when there is none.
JS_DIR := tests/js
$(JS_DIR)/node_modules/.installed: $(JS_DIR)/package.json $(JS_DIR)/package-lock.json
	@command -v npm >/dev/null || { \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q npm; }
	cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

js: $(JS_DIR)/node_modules/.installed ## axe-core (npm ci in tests/js) for the accessibility test

publish: setup ## demo data if none, every quarter, the book as HTML and PDF
	$(VENV)/bin/seuranta publish --data $(DATA) --out $(OUT) --scale $(SCALE)

test: setup lint ## lint, then the whole test suite (what CI runs: .ci/run)
	$(VENV)/bin/python -m pytest -n 2 -q

test-fast: venv js ## the test suite without the slow tests
	$(VENV)/bin/python -m pytest -n 2 -q -m "not slow"

lint: venv ## ruff, the import-linter contracts (one-way stage imports) and vulture (dead code)
	$(VENV)/bin/ruff check src tests scripts bench
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/vulture

backtests: venv ## compare a small fixed demo's tables with the golden tables
	$(PY) -m pytest -q tests/backtests

# A deliberate method or demo change regenerates the goldens in the same commit, with the
# reason in the commit message (tests/backtests/README.md).
backtests-update: venv ## regenerate tests/backtests/golden/ (deliberate changes only)
	$(PY) scripts/update_backtests.py

bench: venv ## the register-stage benchmark and a publish at scale 1
	$(PY) bench/run_bench.py --scale 1 --publish

# Mean error of the national estimates under the old and the new quality rule (issue 12),
# on a national-scale demo with known truth (JOINING=a|b|c); a few minutes.
JOINING ?= a
quality-bias: venv ## mean error of the estimates under the old and new quality rule (scale 1, JOINING=a|b|c)
	$(PY) scripts/quality_bias.py --scale 1 --joining $(JOINING) --out $(OUT)/quality_bias

# The coverage study on registers the model did not generate (src/seuranta/simulate/):
# writes docs/coverage.md, the methods chapter's tables (book/_generated/coverage_fi.md) and
# the README's table. One BLAS thread per process: the two worker processes use the cores
# (threaded BLAS on small matrices only adds contention). REGISTERS per scenario overrides
# the script's own number (scripts/coverage_sim.py REGISTERS).
coverage: venv ## the coverage study (about 15 min on 2 idle cores; README): docs/coverage.md and the book's tables
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) scripts/coverage_sim.py $(if $(REGISTERS),--registers $(REGISTERS)) --write

clean: ## remove build/ and the generated demo data
	rm -rf $(OUT) $(DATA)
