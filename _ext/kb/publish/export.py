"""The audit exports on the published site: every HTML build writes them into ``export/``
of the output, and ``.. kb-export-downloads::`` lists them with links.

The export runs on the needs.json sphinx-needs writes (at build-finished, after sphinx-needs'
own handler), through the same code as the command line, so the site offers exactly what
``make export`` gives. So that a build does not wait for it, a worker process forked when the
pages start to be written (the needs are final then) writes the same needs.json into a
directory of its own and exports from it while the pages are written, on the second core; at
build-finished its export is kept only if its needs.json has the bytes of the one sphinx-needs
wrote, else (or if the worker failed) the export is written then, as without a worker. The
download list is made from the same file plan as the export, and the build fails if a listed
file was not written: the links cannot break.
Hyperlinks inside the files point to ``html_baseurl`` when it is set (conf.py reads it from
KB_BASE_URL), else relative to ``export/``, which works where the site is unpacked. The evidence
markers of the crosswalk's mapping link types are the model's, ``[kb.evidence]``.

An export of 10,000 needs takes seconds, so a build whose export would come out the same is not
exported again: the inputs (needs.json, base URL, markers, source commit, date and tree state,
exporter code, Python and installed packages) are hashed into a key kept beside the doctrees,
and the export is skipped when the key is unchanged and every file in ``export/`` still matches
its SHA256SUMS line (the export is a function of those inputs: same inputs, same bytes)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from docutils import nodes
from kb_export import FILES, ExportError, Source, Trace, export, exporter_digest, sbom, source_of, verify
from kb_export.bundle import sha256_file
from kb_export.needs import types_of
from kb_export.tables import plan
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx_needs.api import get_needs_view

from .. import compat
from ..build import placeholders, unchanged
from ..model import model_of
from .site_files import built_needs_json, fill_file_lists

EXPORT_DIR = "export"
logger = logging.getLogger(__name__)


class export_downloads(nodes.General, nodes.Element):
    # the list has a CSV file per need type present (expected_files)
    kb_shows_fields = ("type",)


class ExportDownloadsDirective(SphinxDirective):
    """``.. kb-export-downloads::`` a list of the export files with links; filled in when
    the builder, and so the page's URL, is known."""

    def run(self) -> list[nodes.Node]:
        return [export_downloads()]


def site_types(app: Sphinx) -> dict[str, str]:
    return types_of(get_needs_view(app).values())


def expected_files(app: Sphinx) -> dict[str, str]:
    """File name -> what it holds, for the download list."""
    files = dict(list(FILES.items())[:2])
    for _, _, title, csv_name in plan(site_types(app)):
        files[csv_name] = f"{title} as CSV (RFC 4180, UTF-8)"
    files.update(list(FILES.items())[2:])
    return files


def fill_downloads(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    fill_file_lists(app, doctree, docname, export_downloads,
                    lambda: [(f"{EXPORT_DIR}/{name}", name, holds) for name, holds in expected_files(app).items()])


def start_worker(app: Sphinx, builder) -> None:
    """``write-started``, last (the needs are final once sphinx-needs has post-processed them):
    a forked worker writes needs.json and the export while this process writes the pages.
    Skipped where a build-finished handler adds files to the bundle (the release change
    report), without fork, or with ``kb_export_worker = 0``."""
    if (not app.config.kb_export_in_build or not app.config.kb_export_worker or builder.format != "html"
            or not hasattr(os, "fork") or getattr(app, "kb_release", None) is not None
            or unchanged.settled(app)):  # needs.json is as the last build left it: nothing to wait for
        return
    work = Path(app.doctreedir) / "kb-export-worker"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # forked: the worker has this process's needs and configuration as they are now
    worker = multiprocessing.get_context("fork").Process(target=_export_in_worker, args=(app, work), daemon=True)
    worker.start()
    app.kb_export_worker = (worker, work)


def _export_in_worker(app: Sphinx, work: Path) -> None:
    """The worker: silent, its result in a file; an exception gives it a non-zero exit code."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    needs_json = compat.write_needs_json(app, work)
    message = run_export(app, needs_json)
    (work / "result.json").write_text(json.dumps({"needs.json": sha256_file(needs_json), "message": message}))


def worker_result(app: Sphinx, needs_json: Path | None) -> str | None:
    """Wait for the worker; its message if it exported from a needs.json with the bytes of
    ``needs_json`` (the one sphinx-needs wrote) and export/ is intact, else None: then the
    export is written here, as without a worker (and any error is reported from here)."""
    worker = getattr(app, "kb_export_worker", None)
    if worker is None:
        return None
    app.kb_export_worker = None
    process, work = worker
    try:
        process.join()
        result = work / "result.json"
        if needs_json is None or process.exitcode != 0 or not result.is_file():
            return None
        done = json.loads(result.read_text())
        if done["needs.json"] != sha256_file(needs_json) or not intact(Path(app.outdir) / EXPORT_DIR):
            return None
        return f"{done['message']} (in a worker, while the pages were written)"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def export_site(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        worker_result(app, None)  # not left running
        return
    if not app.config.kb_export_in_build:  # the quick edit loop (make serve, QUICK=1): no export
        logger.info(f"kb.publish.export: {EXPORT_DIR}/ not written (kb_export_in_build = 0)")
        return
    needs_json = built_needs_json(app, "kb.publish.export")
    logger.info(worker_result(app, needs_json) or run_export(app, needs_json))


def run_export(app: Sphinx, needs_json: Path) -> str:
    """Write export/ from ``needs_json`` unless it is up to date; what was done, to log."""
    outdir = Path(app.outdir)
    base = app.config.html_baseurl
    base_url = (base.rstrip("/") + "/") if base else "../"  # export/ sits one level below the pages
    start = time.perf_counter()
    model = model_of(app.confdir)
    markers = model.evidence_markers
    key_file = Path(app.doctreedir) / "kb-export.key"
    try:
        source = source_of(Path(app.srcdir))
        # the change report since the previous release (kb.publish.release), if there is one
        attached = list(getattr(app, "kb_release_files", []))
        key = export_key(needs_json, base_url, markers, model.trace, source, attached)
        if key_file.is_file() and key_file.read_text() == key and intact(outdir / EXPORT_DIR):
            return f"kb.publish.export: {EXPORT_DIR}/ is up to date (same needs.json, source and tools)"
        key_file.unlink(missing_ok=True)
        manifest = export(needs_json, outdir / EXPORT_DIR, base_url=base_url, source=source, evidence=markers,
                          trace=model.trace, attachments=attached, sbom_cache=Path(app.doctreedir) / "kb-sbom")
    except ExportError as e:
        raise ExtensionError(f"kb.publish.export: {e}") from None
    missing = sorted(set(expected_files(app)) - {*manifest["files"], "manifest.json", "SHA256SUMS"})
    if missing:
        raise ExtensionError(f"kb.publish.export: the downloads list names files the export did not write: {missing}")
    key_file.write_text(key)
    return (f"kb.publish.export: wrote {EXPORT_DIR}/ ({len(manifest['files']) + 2} files) "
            f"in {time.perf_counter() - start:.1f} s")


def export_key(needs_json: Path, base_url: str, markers: dict[str, str], trace: Trace, source: Source,
               attached: list[Path] = ()) -> str:
    """A hash of everything the export's bytes depend on."""
    inputs = {"needs.json": sha256_file(needs_json), "base_url": base_url,
              "markers": markers, "trace": dataclasses.asdict(trace),
              "source": [source.commit, source.epoch, source.tree],
              "exporter": exporter_digest(), "python": [sys.executable, platform.python_version()],
              "packages": sbom.installed(), "signing key": os.environ.get(verify.SIGNING_KEY, ""),
              "attached": [[p.name, sha256_file(p)] for p in attached]}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def intact(directory: Path) -> bool:
    """Every file of an earlier export is there, unchanged, and nothing else."""
    sums = directory / "SHA256SUMS"
    if not sums.is_file():
        return False
    listed = dict(reversed(line.split("  ", 1)) for line in sums.read_text(encoding="utf-8").splitlines())
    present = {p.name for p in directory.iterdir()} - {"SHA256SUMS", verify.SIGNATURE}
    return present == set(listed) and all(
        sha256_file(directory / name) == digest for name, digest in listed.items())


def setup(app: Sphinx) -> dict:
    # Off (-D kb_export_in_build=0) in make serve and make html QUICK=1: writing the export is
    # a third of an edit build. CI and make html keep it; changing it re-reads nothing.
    app.add_config_value("kb_export_in_build", True, "", types=(bool, int))
    # 0: the export is written after the pages, in the build's own process
    app.add_config_value("kb_export_worker", True, "", types=(bool, int))
    app.add_node(export_downloads)
    placeholders.register(export_downloads)
    app.add_directive("kb-export-downloads", ExportDownloadsDirective)
    app.connect("doctree-resolved", fill_downloads)
    # after sphinx-needs' build-finished handler (priority 500) has written needs.json
    app.connect("build-finished", export_site, priority=800)
    app.connect("write-started", start_worker, priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
