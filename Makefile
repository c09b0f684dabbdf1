# One-command entry points. `make publish` and `make test` do all the set-up on a fresh
# Debian machine (as root): Debian packages when missing, a virtualenv with the pinned
# requirements, then the job itself.

VENV    ?= .venv
PY      := $(VENV)/bin/python
DATA    ?= data/demo
OUT     ?= build
SCALE   ?= 0.05
# Debian packages: LaTeX for the PDF working papers, poppler and chromium and LibreOffice
# for the reader tests.
APT_PKGS := texlive-xetex texlive-latex-extra texlive-latex-recommended \
            texlive-fonts-recommended texlive-lang-european latexmk fonts-freefont-otf xindy \
            poppler-utils chromium libreoffice-calc-nogui

.PHONY: setup debs venv publish test test-fast bench coverage clean

setup: debs venv

debs:
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

venv: $(VENV)/.installed

publish: setup
	$(VENV)/bin/seuranta publish --data $(DATA) --out $(OUT) --scale $(SCALE)

test: setup
	$(VENV)/bin/python -m pytest -n 2 -q

test-fast: venv
	$(VENV)/bin/python -m pytest -n 2 -q -m "not slow"

bench: venv
	$(PY) bench/run_bench.py --scale 1 --publish

# The coverage study (about 20 min on 2 cores): writes docs/coverage.md, the methods
# chapter's table (book/_generated/coverage_fi.md) and the README's table.
coverage: venv
	$(PY) scripts/coverage_sim.py --write

clean:
	rm -rf $(OUT) $(DATA)
