#!/usr/bin/env python3
"""Audit exports of a sphinx-needs needs.json: XLSX, one CSV per sheet, ReqIF 1.2, the
needs.json itself, a CycloneDX SBOM of the toolchain, a manifest and SHA256SUMS.

Command line (any project's needs.json):

    python3 _ext/kb_export.py path/to/needs.json -o outdir [--filter "'x' in tags"]
        [--tag T] [--stakeholder S] [--phase P] [--base-url URL] [--evidence LINK=MARKER]
        [--no-sbom]

As a Sphinx extension it writes the same export into the HTML output (``export/``) after
sphinx-needs has written needs.json, and ``.. kb-export-downloads::`` lists the files.

Same commit, same bytes: every date is the source commit's (``git log -1 --format=%ct``,
or SOURCE_DATE_EPOCH when set). A bad input stops the export with one line on stderr and
exit code 2 before anything is written; the files are written into a temporary directory
that replaces the output directory only when complete."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import kb_export_crosswalk  # noqa: E402
import kb_export_reqif  # noqa: E402
import kb_export_sbom  # noqa: E402
import kb_export_tables  # noqa: E402
import kb_export_xlsx  # noqa: E402
from kb_export_filter import select, shorthand  # noqa: E402
from kb_export_needs import ExportError, NeedsFile, load  # noqa: E402

FILES = {  # the fixed files of an export, and what each holds (the site's download list)
    "traceability.xlsx": "Workbook: About (commit, tools, counts, filter), requirements, traceability "
                         "matrix, design controls, tests, post-market activities, standards, coverage summary, "
                         "crosswalk (every mapping to a framework clause with its evidence level)",
    "traceability.reqif": "ReqIF 1.2 for requirements tools: a type per need type, a relation per link "
                          "(crosswalk mappings typed by their evidence level), the requirements in the tree "
                          "of the guideline's sections",
    "needs.json": "Every need with all its fields and links, as sphinx-needs wrote it",
    "sbom.cdx.json": "CycloneDX SBOM of the Python toolchain that built the export",
    "manifest.json": "What was exported, from which commit, with which tools and filter; file checksums",
    "SHA256SUMS": "Checksums of every file: sha256sum -c SHA256SUMS",
}
NO_COMMIT_EPOCH = 315532800  # 1980-01-01, the earliest date a ZIP entry can carry


@dataclass
class Source:
    commit: str | None
    epoch: int
    tree: str

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.epoch, timezone.utc)


def source_of(directory: Path) -> Source:
    """The commit the export comes from; its date unless SOURCE_DATE_EPOCH says otherwise."""
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True)
        except OSError:
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip() or (commit and git("log", "-1", "--format=%ct"))
    try:
        epoch = int(epoch) if epoch else NO_COMMIT_EPOCH
    except ValueError:
        raise ExportError(f"SOURCE_DATE_EPOCH {epoch!r} is not a number of seconds") from None
    status = git("status", "--porcelain") if commit else None
    tree = "unknown" if status is None else "clean" if not status else "with uncommitted changes"
    return Source(commit, epoch, tree)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def exporter_digest() -> str:
    """Identifies the exporter's code, also where it was copied into another project."""
    digest = hashlib.sha256()
    for module in sorted(Path(__file__).resolve().parent.glob("kb_export*.py")):
        digest.update(module.name.encode() + b"\0" + module.read_bytes())
    return digest.hexdigest()[:16]


def about(needs: NeedsFile, selected: dict[str, dict], source: Source, filter_text: str,
          base_url: str | None, markers: dict[str, str]) -> dict:
    """The facts of the About sheet and the manifest."""
    per_type: dict[str, int] = {}
    for need in selected.values():
        per_type[need["type"]] = per_type.get(need["type"], 0) + 1
    states = [n.get("coverage") for n in selected.values() if n["type"] == "req"]
    return {
        "project": needs.project,
        "source commit": source.commit or "none (not in a git repository)",
        "source commit date": source.when.isoformat(),
        "source tree": source.tree,
        "source needs.json": {"file": needs.path.name, "sha256": hashlib.sha256(needs.raw).hexdigest(),
                              "written by": needs.creator, "version": needs.version or "(unnamed)"},
        "filter": filter_text or "none (every need)",
        "hyperlinks to": base_url or "none (no base URL given)",
        "needs": {"exported": len(selected), "in needs.json": len(needs.needs)},
        "needs per type": per_type,
        "links per link type": {l: sum(len(n.get(l) or []) for n in selected.values()) for l in needs.link_types},
        "requirements by coverage": {s: states.count(s) for s in kb_export_tables.STATES},
        "crosswalk": {"mappings": len(kb_export_crosswalk.rows(needs, selected, markers)),
                      "evidence marker per mapping link type": markers or "none (no links to clauses)"},
        "tools": {"exporter": f"kb_export*.py, sha256 {exporter_digest()}", "python": platform.python_version(),
                  **{d: _version(d) for d in ("openpyxl", "reqif", "lxml", "cyclonedx-bom")}},
        "conventions": {
            "type sheets": "one row per need; the columns are the needs.json field names",
            "lists": "one item per line in a cell",
            "formula guard": "text beginning with = + - @ tab or carriage return (after any ') "
                             "has a ' put before it; remove one leading ' to read the original",
        },
    }


def export(needs_json: str | Path, outdir: str | Path, *, filter_text: str = "", base_url: str | None = None,
           source_dir: str | Path | None = None, sbom: bool = True, evidence: dict[str, str] | None = None,
           source: Source | None = None) -> dict:
    """Write the export into outdir (replaced as a whole); returns the manifest. ``evidence``:
    link type -> marker of the crosswalk's evidence levels (see kb_export_crosswalk).
    ``source``: the commit, as source_of() gave it, for a caller that has it already."""
    needs = load(needs_json)
    markers = kb_export_crosswalk.mapping_markers(needs, evidence)
    selected = select(needs.needs, filter_text)
    if base_url:
        base_url = base_url if base_url.endswith("/") else base_url + "/"
    source = source or source_of(Path(source_dir) if source_dir else needs.path.resolve().parent)
    facts = about(needs, selected, source, filter_text, base_url, markers)
    sheets = kb_export_tables.build(needs, selected, base_url, facts, markers)
    if sbom and not kb_export_sbom.available():
        raise ExportError(kb_export_sbom.MISSING)
    outdir = Path(outdir)
    _check_replaceable(outdir)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.tmp-", dir=outdir.parent))
    try:
        os.chmod(tmp, 0o755)
        for sheet in sheets:
            kb_export_tables.write_csv(sheet, tmp / sheet.csv_name)
        kb_export_xlsx.write(sheets, tmp / "traceability.xlsx", source.when, needs.project)
        comment = f"sphinx-needs export of {needs.path.name}, commit {facts['source commit']}, filter: {facts['filter']}"
        kb_export_reqif.write(needs, selected, tmp / "traceability.reqif", source.when, comment, markers)
        if filter_text:  # the needs of the export, in the structure sphinx-needs writes
            document = json.loads(needs.raw)
            block = document["versions"][needs.version]
            block["needs"] = {i: block["needs"][i] for i in selected}
            block["needs_amount"] = len(selected)
            (tmp / "needs.json").write_text(json.dumps(document, indent=4, sort_keys=True, ensure_ascii=False),
                                            encoding="utf-8")
        else:
            (tmp / "needs.json").write_bytes(needs.raw)
        if sbom:
            kb_export_sbom.write(tmp / "sbom.cdx.json", source.epoch,
                                 f"{needs.project or 'sphinx-needs'} export at {source.commit or 'no commit'}")
        manifest = {"export": facts, "files": {p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
                                               for p in sorted(tmp.iterdir())}}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "SHA256SUMS").write_text("".join(f"{_sha256(p)}  {p.name}\n" for p in sorted(tmp.iterdir())),
                                        encoding="utf-8")
        _replace(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_replaceable(outdir: Path) -> None:
    """Only a new, empty or earlier export directory is replaced: never someone's folder."""
    if outdir.exists() and not outdir.is_dir():
        raise ExportError(f"{outdir}: exists and is not a directory")
    if outdir.is_dir() and any(outdir.iterdir()) and not (outdir / "SHA256SUMS").is_file():
        raise ExportError(f"{outdir}: not empty and not an earlier export; choose a new or empty directory")


def _replace(tmp: Path, outdir: Path) -> None:
    if not outdir.exists():
        tmp.rename(outdir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.old-", dir=outdir.parent))
    outdir.rename(old / outdir.name)
    tmp.rename(outdir)
    shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kb_export.py", description="Export a sphinx-needs needs.json to XLSX, CSV, ReqIF, "
        "needs.json and a CycloneDX SBOM, with a manifest and SHA256SUMS.")
    parser.add_argument("needs_json", help="the needs.json sphinx-needs wrote (build_json = true)")
    parser.add_argument("-o", "--output", required=True, help="output directory (replaced as a whole)")
    parser.add_argument("--filter", default="", help="sphinx-needs filter string, e.g. \"'patient-safety' in tags\"")
    parser.add_argument("--tag", action="append", default=[], help="only needs with this tag (repeatable)")
    parser.add_argument("--stakeholder", action="append", default=[], help="only needs addressing this stakeholder")
    parser.add_argument("--phase", action="append", default=[], help="only needs of this life-cycle phase")
    parser.add_argument("--base-url", default=os.environ.get("KB_BASE_URL") or None,
                        help="URL of the published site; IDs link to <base-url><page>.html#<ID> "
                             "(default: $KB_BASE_URL; without it, IDs are not linked)")
    parser.add_argument("--source-dir", help="git work tree the needs.json was built from "
                                             "(default: the directory of needs.json)")
    parser.add_argument("--evidence", action="append", default=[], metavar="LINK=MARKER",
                        help="the evidence marker of a crosswalk mapping link type, e.g. maps_primary=[P] "
                             "(repeatable; default: the N60 model's markers; a mapping link type without "
                             "one is marked with its name)")
    parser.add_argument("--no-sbom", action="store_true", help="do not write sbom.cdx.json")
    args = parser.parse_args(argv)
    filter_text = shorthand(args.tag, args.stakeholder, args.phase, args.filter)
    start = time.perf_counter()
    try:
        evidence = {}
        for item in args.evidence:
            link, sep, marker = item.partition("=")
            if not sep or not link.strip() or not marker.strip():
                raise ExportError(f"--evidence {item!r}: give LINK=MARKER, e.g. maps_primary=[P]")
            evidence[link.strip()] = marker.strip()
        manifest = export(args.needs_json, args.output, filter_text=filter_text, base_url=args.base_url,
                          source_dir=args.source_dir, sbom=not args.no_sbom, evidence=evidence)
    except ExportError as e:
        print(f"kb_export: error: {e}", file=sys.stderr)
        return 2
    facts = manifest["export"]
    print(f"kb_export: {facts['needs']['exported']} of {facts['needs']['in needs.json']} needs "
          f"(filter: {facts['filter']}) -> {args.output}/ ({len(manifest['files']) + 2} files, "
          f"{time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
