# Makefile for the IMDRF medical device cybersecurity knowledge base.
# In the style of CPython's Doc/Makefile: every target depends on the venv target,
# which (re)creates .venv from the hash-pinned lock file whenever the lock changes.

PYTHON      ?= python3
VENV        := .venv
VENVPY      := $(VENV)/bin/python
SPHINXBUILD := $(VENV)/bin/sphinx-build
SPHINXOPTS  ?= -W --keep-going -n
BUILDDIR    := _build
STAMP       := $(VENV)/.installed-$(shell sha256sum requirements.lock 2>/dev/null | cut -c1-16)

.DEFAULT_GOAL := help
BENCH_SIZES ?= 1000,5000,10000
.PHONY: help venv html test bench serve clean lock system-deps review-links

help:
	@echo "Targets:"
	@echo "  html         build the site into $(BUILDDIR)/html (warnings are errors)"
	@echo "  test         build once and run every test (pytest, tests/)"
	@echo "  bench        benchmark synthetic knowledge bases of $(BENCH_SIZES) needs ($(BUILDDIR)/bench/results.json)"
	@echo "  serve        live preview with sphinx-autobuild at http://127.0.0.1:8000"
	@echo "  review-links record every design/test/post-market link as reviewed (after a review)"
	@echo "  clean        remove $(BUILDDIR)"
	@echo "  venv         create or update $(VENV) from requirements.lock (hash-checked)"
	@echo "  lock         regenerate requirements.lock from requirements.in (maintainers)"
	@echo "  system-deps  check system programs the build needs (graphviz's dot)"

venv: $(STAMP)

$(STAMP): requirements.lock
	@test -x $(VENVPY) || $(PYTHON) -m venv $(VENV)
	$(VENVPY) -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	@rm -f $(VENV)/.installed-*
	@touch $@

system-deps:
	@tools/require-program dot graphviz

html: venv system-deps
	$(SPHINXBUILD) -b html $(SPHINXOPTS) . $(BUILDDIR)/html

test: venv system-deps
	$(VENVPY) -m pytest tests

# Not part of `test`: at 10,000 needs it runs for many minutes. See README, "Performance".
bench: venv system-deps
	SPHINXOPTS="$(SPHINXOPTS)" $(VENVPY) tools/bench.py --sizes $(BENCH_SIZES) --out $(BUILDDIR)/bench

serve: venv system-deps
	$(VENV)/bin/sphinx-autobuild -b html $(SPHINXOPTS) --host 127.0.0.1 --port 8000 \
		--ignore "$(BUILDDIR)/*" --ignore "$(VENV)/*" --ignore "tests/*" . $(BUILDDIR)/html

review-links: html
	$(VENVPY) tools/review-links $(BUILDDIR)/html/needs.json

clean:
	rm -rf $(BUILDDIR)

# Regenerates the lock in a throwaway environment, from PyPI only, for this machine's Python.
lock:
	$(PYTHON) -m venv $(BUILDDIR)/lockenv
	$(BUILDDIR)/lockenv/bin/python -m pip install --quiet pip-tools
	PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= $(BUILDDIR)/lockenv/bin/pip-compile --quiet \
		--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements.lock requirements.in
