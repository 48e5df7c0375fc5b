"""kb.build.parallel: with ``-j`` a build that reads many documents runs in parallel and gives
the pages of a serial build; a build that reads few runs in one process."""

from __future__ import annotations

import re

from conftest import ROOT, assert_same_pages, build_fixture, sphinx_build

ONE_PROCESS = "this build runs in one process"
# Sphinx reports a parallel read by chunks of documents ("first .. last"), a serial one by document
READ_IN_CHUNKS = re.compile(r"reading sources\.\.\. \[ *\d+%\] \S+ \.\. \S+")


def test_a_parallel_build_of_the_site_writes_the_pages_of_a_serial_one(site, tmp_path):
    parallel = sphinx_build(ROOT, tmp_path / "html", "-E", "-j", "2")
    assert parallel.returncode == 0, parallel.output[-6000:]
    assert ONE_PROCESS not in parallel.output
    assert READ_IN_CHUNKS.search(parallel.output)
    assert_same_pages(parallel.outdir, site.outdir, ("parallel", "serial"))


def test_a_build_that_reads_few_documents_runs_in_one_process(tmp_path):
    parallel = build_fixture("incremental", tmp_path, options=("-j", "2"))
    assert parallel.returncode == 0, parallel.output[-4000:]
    assert ONE_PROCESS in parallel.output and not READ_IN_CHUNKS.search(parallel.output)
    serial = sphinx_build(parallel.srcdir, tmp_path / "serial")
    assert serial.returncode == 0, serial.output[-4000:]
    assert ONE_PROCESS not in serial.output  # -j 1: nothing to say
    assert_same_pages(parallel.outdir, serial.outdir, ("parallel", "serial"))
