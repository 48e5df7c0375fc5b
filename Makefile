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
EXAMPLE     := examples/device-template

.DEFAULT_GOAL := help
.PHONY: help venv html export example test serve clean lock system-deps review-links

help:
	@echo "Targets:"
	@echo "  html         build the site into $(BUILDDIR)/html (warnings are errors)"
	@echo "  export       build, then write the audit exports into $(BUILDDIR)/export (XLSX, CSV,"
	@echo "               ReqIF, needs.json, SBOM, SHA256SUMS); select needs with FILTER=\"'x' in tags\","
	@echo "               TAG=, STAKEHOLDER=, PHASE=; link IDs to BASE_URL= (default: ../html/)"
	@echo "  example      build the site, then the example device project $(EXAMPLE) (which"
	@echo "               imports the site's interchange) into $(EXAMPLE)/_build/html, and"
	@echo "               write its audit exports into $(EXAMPLE)/_build/export"
	@echo "  test         build once and run every test (pytest, tests/)"
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

# The selection variables reach the recipe through the environment (make exports variables
# given on its command line), so quotes inside a filter need no escaping here.
export: html
	$(VENVPY) _ext/kb_export.py $(BUILDDIR)/html/needs.json -o $(BUILDDIR)/export \
		--base-url "$${BASE_URL:-$${KB_BASE_URL:-../html/}}" \
		$${FILTER:+--filter "$$FILTER"} $${TAG:+--tag "$$TAG"} \
		$${STAKEHOLDER:+--stakeholder "$$STAKEHOLDER"} $${PHASE:+--phase "$$PHASE"}

# The example reads the interchange the html target has just written (_build/html/interchange/v1),
# and is built and exported by its own Makefile, as a copy of it would be.
example: html
	$(MAKE) -C $(EXAMPLE) export SPHINXBUILD="$(CURDIR)/$(SPHINXBUILD)" PYTHON="$(CURDIR)/$(VENVPY)" \
		SPHINXOPTS="$(SPHINXOPTS)"

test: venv system-deps
	$(VENVPY) -m pytest tests

serve: venv system-deps
	$(VENV)/bin/sphinx-autobuild -b html $(SPHINXOPTS) --host 127.0.0.1 --port 8000 \
		--ignore "$(BUILDDIR)/*" --ignore "$(VENV)/*" --ignore "tests/*" . $(BUILDDIR)/html

review-links: html
	$(VENVPY) tools/review-links $(BUILDDIR)/html/needs.json

clean:
	rm -rf $(BUILDDIR) $(EXAMPLE)/_build

# Regenerates the lock in a throwaway environment, from PyPI only, for this machine's Python.
lock:
	$(PYTHON) -m venv $(BUILDDIR)/lockenv
	$(BUILDDIR)/lockenv/bin/python -m pip install --quiet pip-tools
	PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= $(BUILDDIR)/lockenv/bin/pip-compile --quiet \
		--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements.lock requirements.in
