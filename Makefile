# Makefile for the IMDRF medical device cybersecurity knowledge base.
# In the style of CPython's Doc/Makefile: every target depends on the venv target,
# which (re)creates .venv from the hash-pinned lock file whenever the lock changes.

PYTHON      ?= python3
VENV        := .venv
VENVPY      := $(VENV)/bin/python
SPHINXBUILD := $(VENV)/bin/sphinx-build
# -j auto: a build that reads many documents uses every core; one that reads few (an edit)
# runs in one process (kb.build.parallel)
SPHINXOPTS  ?= -W --keep-going -n -j auto
BUILDDIR    := _build
STAMP       := $(VENV)/.installed-$(shell sha256sum requirements.lock 2>/dev/null | cut -c1-16)
EXAMPLE     := examples/device-template

.DEFAULT_GOAL := help
BENCH_SIZES ?= 1000,5000,10000
.PHONY: help venv html export example pdf changes verify test audit bench serve clean lock system-deps browser-deps review-links

help:
	@echo "Targets:"
	@echo "  html         build the site into $(BUILDDIR)/html (warnings are errors); QUICK=1 leaves out"
	@echo "               the export written during the build (the edit loop; make export still writes one)"
	@echo "  export       build, then write the audit exports into $(BUILDDIR)/export (XLSX, CSV,"
	@echo "               ReqIF, needs.json, SBOM, SHA256SUMS); select needs with FILTER=\"'x' in tags\","
	@echo "               TAG=, STAKEHOLDER=, PHASE=; link IDs to BASE_URL= (default: ../html/)"
	@echo "  example      build the site, then the example device project $(EXAMPLE) (which"
	@echo "               imports the site's interchange) into $(EXAMPLE)/_build/html, and"
	@echo "               write its audit exports into $(EXAMPLE)/_build/export"
	@echo "  pdf          build the site and the example, then print the audit report of each as a PDF"
	@echo "               (tools/report-pdf, headless chromium; contents: [kb.report] of ubproject.toml)"
	@echo "               into its export: $(BUILDDIR)/html/export/ and $(EXAMPLE)/_build/export/"
	@echo "  changes      report what changed since FROM=<git ref> (to TO=<git ref>, default: the working"
	@echo "               tree) as HTML, XLSX and JSON in $(BUILDDIR)/changes; each ref is built once, in a"
	@echo "               worktree with its own lock; PROJECT=$(EXAMPLE) compares the device template"
	@echo "  verify       check an export bundle: BUNDLE=<dir> (default $(BUILDDIR)/export): its files"
	@echo "               against SHA256SUMS and the manifest, and its signature against tools/allowed_signers"
	@echo "  test         build once and run every test (pytest, tests/)"
	@echo "  audit        check requirements.lock for known vulnerabilities (pip-audit; network)"
	@echo "  bench        benchmark synthetic knowledge bases of $(BENCH_SIZES) needs, beside plain Sphinx and"
	@echo "               two peers, plain sphinx-needs and StrictDoc ($(BUILDDIR)/bench/results.json)"
	@echo "  serve        live preview at http://127.0.0.1:8000: warm rebuilds on save, no export in the build"
	@echo "  review-links record every design/test/post-market link as reviewed (after a review)"
	@echo "  clean        remove $(BUILDDIR)"
	@echo "  venv         create or update $(VENV) from requirements.lock (hash-checked)"
	@echo "  lock         regenerate requirements.lock from requirements.in (maintainers)"
	@echo "  system-deps  check system programs the build needs (graphviz's dot)"
	@echo "  browser-deps check the browser the browser tests drive (Debian's chromium)"

venv: $(STAMP)

$(STAMP): requirements.lock
	@test -x $(VENVPY) || $(PYTHON) -m venv $(VENV)
	$(VENVPY) -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	@rm -f $(VENV)/.installed-*
	@touch $@

system-deps:
	@tools/require-program dot graphviz

# The browser tests drive Debian's chromium. When it is missing and cannot be installed, the
# other tests still run and the browser tests fail with one line saying what to install.
browser-deps:
	@tools/require-program chromium chromium || true

# The doctrees (pickled build state) go beside the site, so that _build/html is only the site.
# QUICK=1: the edit loop, without the export written during the build (make export writes it).
html: venv system-deps
	$(SPHINXBUILD) -b html $(SPHINXOPTS) $(if $(QUICK),-D kb_export_in_build=0) -d $(BUILDDIR)/doctrees . $(BUILDDIR)/html

# The selection variables reach the recipe through the environment (make exports variables
# given on its command line), so quotes inside a filter need no escaping here.
export: html
	PYTHONPATH=_ext $(VENVPY) -m kb_export $(BUILDDIR)/html/needs.json -o $(BUILDDIR)/export \
		--model ubproject.toml --base-url "$${BASE_URL:-$${KB_BASE_URL:-../html/}}" \
		$${FILTER:+--filter "$$FILTER"} $${TAG:+--tag "$$TAG"} \
		$${STAKEHOLDER:+--stakeholder "$$STAKEHOLDER"} $${PHASE:+--phase "$$PHASE"}

# The example reads the interchange the html target has just written (_build/html/interchange/v1),
# and is built and exported by its own Makefile, as a copy of it would be.
example: html
	$(MAKE) -C $(EXAMPLE) export SPHINXBUILD="$(CURDIR)/$(SPHINXBUILD)" PYTHON="$(CURDIR)/$(VENVPY)" \
		SPHINXOPTS="$(SPHINXOPTS)"

# Without TO the new side is the working tree, built first (the site, or the site and the
# device template for PROJECT=$(EXAMPLE)).
PROJECT ?= .
changes: venv system-deps
	@test -n "$(FROM)" || { echo "make changes: give FROM=<git ref> (and TO=<git ref>; default: the working tree)" >&2; exit 2; }
	$(if $(TO),,$(MAKE) $(if $(filter .,$(PROJECT)),html,example))
	$(VENVPY) tools/changes "$(FROM)" $(if $(TO),--to "$(TO)") --project "$(PROJECT)" -o $(BUILDDIR)/changes

# SIGNED=1: fail on a bundle without a signature.
verify: venv
	@tools/require-program ssh-keygen openssh-client
	PYTHONPATH=_ext $(VENVPY) -m kb_export.verify "$${BUNDLE:-$(BUILDDIR)/export}" \
		--allowed-signers tools/allowed_signers $(if $(SIGNED),--require-signature)

# The PDF is printed from the built pages after the build, not during it (printing takes some
# 30 s), and joins the build's export: tools/report-pdf lists it in manifest.json and SHA256SUMS.
pdf: html browser-deps
	$(VENVPY) tools/report-pdf $(BUILDDIR)/html --model ubproject.toml --bundle $(BUILDDIR)/html/export
	$(MAKE) -C $(EXAMPLE) pdf SPHINXBUILD="$(CURDIR)/$(SPHINXBUILD)" PYTHON="$(CURDIR)/$(VENVPY)" \
		SPHINXOPTS="$(SPHINXOPTS)"

test: venv system-deps browser-deps
	@tools/require-program ssh-keygen openssh-client
	$(VENVPY) -m pytest tests

# Known vulnerabilities of every pinned package, from PyPI's vulnerability data (needs network;
# not part of test). --disable-pip with --require-hashes reads the lock as it is and installs
# nothing; --strict fails when a package could not be audited instead of skipping it, so an
# audit that could not look anything up never reads as "no known vulnerabilities".
audit: venv
	$(VENV)/bin/pip-audit --requirement requirements.lock --require-hashes --disable-pip \
		--strict --progress-spinner off --desc on
# Not part of `test`: at 10,000 needs it runs for many minutes. See guide/maintaining.md, "Performance".
bench: venv system-deps browser-deps
	SPHINXOPTS="$(SPHINXOPTS)" $(VENVPY) tools/bench.py --sizes $(BENCH_SIZES) --out $(BUILDDIR)/bench

serve: venv system-deps
	$(VENVPY) tools/serve --host 127.0.0.1 --port 8000 --ignore "$(BUILDDIR)/*" --ignore "$(VENV)/*" --ignore "tests/*" \
		-- -b html $(SPHINXOPTS) -D kb_export_in_build=0 -d $(BUILDDIR)/doctrees . $(BUILDDIR)/html

review-links: html
	$(VENVPY) tools/review-links $(BUILDDIR)/html/needs.json

clean:
	rm -rf $(BUILDDIR) $(EXAMPLE)/_build

# Regenerates the locks in a throwaway environment, from PyPI only, for this machine's Python:
# the site's, and StrictDoc's (tools/strictdoc.lock, which `make bench` installs for its peer case).
PIPCOMPILE := PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= $(BUILDDIR)/lockenv/bin/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock:
	$(PYTHON) -m venv $(BUILDDIR)/lockenv
	$(BUILDDIR)/lockenv/bin/python -m pip install --quiet pip-tools
	$(PIPCOMPILE) -o requirements.lock requirements.in
	$(PIPCOMPILE) -o tools/strictdoc.lock tools/strictdoc.in
