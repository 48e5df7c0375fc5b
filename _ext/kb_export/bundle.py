"""The export bundle of a sphinx-needs needs.json: XLSX, one CSV per sheet, ReqIF 1.2, the
needs.json itself, a CycloneDX SBOM of the toolchain, a manifest and SHA256SUMS.

Same commit, same bytes: every date is the source commit's (``git log -1 --format=%ct``,
or SOURCE_DATE_EPOCH when set). A bad input stops the export with an ExportError of one line
before anything is written; the files are written into a temporary directory that replaces
the output directory only when complete."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from . import crosswalk, reqif, tables, xlsx
from . import sbom as sbom_writer
from .filter import select
from .needs import ExportError, NeedsFile, load
from .trace import Trace

FILES = {  # the fixed files of an export, and what each holds (the site's download list)
    "traceability.xlsx": "Workbook: About (commit, tools, counts, filter), requirements, traceability "
                         "matrix, design controls, tests, post-market activities, standards, coverage summary, "
                         "crosswalk (every topic link to a framework clause with its evidence level, and the fit "
                         "that judges it: full, partial or related, with its reason), framework coverage "
                         "(requirements with a full or partial fit, per framework), framework gaps (clauses "
                         "no full or partial fit reaches)",
    "traceability.reqif": "ReqIF 1.2 for requirements tools: a type per need type, a relation per link "
                          "(crosswalk topic links typed by their evidence level; fits as needs of their own), the requirements in the tree "
                          "of the guideline's sections",
    "needs.json": "Every need with all its fields and links, as sphinx-needs wrote it",
    "sbom.cdx.json": "CycloneDX SBOM of the Python toolchain that built the export",
    "manifest.json": "What was exported, from which commit, with which tools and filter; file checksums",
    "SHA256SUMS": "Checksums of every file: sha256sum -c SHA256SUMS; make verify BUNDLE=<dir> checks them, "
                  "the manifest and, when the bundle is signed (SHA256SUMS.sig), the signature",
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
    for module in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(module.name.encode() + b"\0" + module.read_bytes())
    return digest.hexdigest()[:16]


def about(needs: NeedsFile, selected: dict[str, dict], source: Source, filter_text: str,
          base_url: str | None, markers: dict[str, str], trace: Trace) -> dict:
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
        "requirements by coverage": {s: states.count(s) for s in trace.states},
        "crosswalk": {"topic links": len(xrows := crosswalk.rows(needs, selected, markers)),
                      "fits by level": {level: sum(r["Fit"] == level for r in xrows)
                                        for level in sorted({r["Fit"] for r in xrows})},
                      "evidence marker per mapping link type": markers or "none (no links to clauses)"},
        "tools": {"exporter": f"kb_export, sha256 {exporter_digest()}", "python": platform.python_version(),
                  **{d: _version(d) for d in ("reqif", "lxml", "cyclonedx-bom")}},
        "conventions": {
            "type sheets": "one row per need; the columns are the needs.json field names",
            "lists": "one item per line in a cell",
            "formula guard": "text beginning with = + - @ tab or carriage return (after any ') "
                             "has a ' put before it; remove one leading ' to read the original",
        },
    }


def export(needs_json: str | Path, outdir: str | Path, *, filter_text: str = "", base_url: str | None = None,
           source_dir: str | Path | None = None, sbom: bool = True, evidence: dict[str, str] | None = None,
           source: Source | None = None, trace: Trace | None = None,
           attachments: list[str | Path] | None = None, sbom_cache: Path | None = None) -> dict:
    """Write the export into outdir (replaced as a whole); returns the manifest. ``evidence``:
    link type -> marker of the crosswalk's evidence levels (see crosswalk.py).
    ``source``: the commit, as source_of() gave it, for a caller that has it already.
    ``trace``: what covers a requirement (trace.py); without it no link counts as covering.
    ``attachments``: further files the bundle carries as they are (a device's SBOM and VEX),
    listed in the manifest and SHA256SUMS; a missing one, or one whose name an export file
    has, stops the export. ``sbom_cache``: where the SBOM of this environment is kept between
    exports (sbom.py)."""
    trace = trace or Trace()
    attached = [Path(a) for a in attachments or []]
    for path in attached:
        if not path.is_file():
            raise ExportError(f"{path}: the file to attach does not exist")
    names = [p.name for p in attached]
    clash = sorted({n for n in names if names.count(n) > 1 or n in FILES or n.endswith(".csv")})
    if clash:
        raise ExportError(f"attachments named like another file of the export: {', '.join(clash)}")
    needs = load(needs_json)
    markers = crosswalk.mapping_markers(needs, evidence)
    selected = select(needs.needs, filter_text)
    if base_url:
        base_url = base_url if base_url.endswith("/") else base_url + "/"
    source = source or source_of(Path(source_dir) if source_dir else needs.path.resolve().parent)
    facts = about(needs, selected, source, filter_text, base_url, markers, trace)
    if attached:
        facts["attached files"] = ", ".join(p.name for p in attached)
    sheets = tables.build(needs, selected, base_url, facts, markers, trace)
    if sbom and not sbom_writer.available():
        raise ExportError(sbom_writer.MISSING)
    outdir = Path(outdir)
    _check_replaceable(outdir)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.tmp-", dir=outdir.parent))
    try:
        os.chmod(tmp, 0o755)
        for sheet in sheets:
            tables.write_csv(sheet, tmp / sheet.csv_name)
        xlsx.write(sheets, tmp / "traceability.xlsx", source.when, needs.project)
        comment = f"sphinx-needs export of {needs.path.name}, commit {facts['source commit']}, filter: {facts['filter']}"
        reqif.write(needs, selected, tmp / "traceability.reqif", source.when, comment, markers)
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
            sbom_writer.write(tmp / "sbom.cdx.json", source.epoch,
                              f"{needs.project or 'sphinx-needs'} export at {source.commit or 'no commit'}",
                              cache=sbom_cache)
        for path in attached:
            shutil.copyfile(path, tmp / path.name)
        manifest = {"export": facts, "files": {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                                               for p in sorted(tmp.iterdir())}}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "SHA256SUMS").write_text("".join(f"{sha256_file(p)}  {p.name}\n" for p in sorted(tmp.iterdir())),
                                        encoding="utf-8")
        from . import verify  # here: `python3 -m kb_export.verify` must not find it imported already

        try:
            verify.sign(tmp)  # SHA256SUMS.sig, when KB_SIGNING_KEY names a key
        except RuntimeError as err:
            raise ExportError(str(err)) from None
        _replace(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, as SHA256SUMS and the manifest list it (hex)."""
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


def add_file(directory: str | Path, path: str | Path) -> dict:
    """Put a file written after the export (the audit report PDF of ``make pdf``) into an
    export directory: copied there unless it is there already, then listed in the manifest and
    SHA256SUMS as the export lists its own files. Returns the manifest."""
    directory, path = Path(directory), Path(path)
    manifest_path = directory / "manifest.json"
    if not (directory / "SHA256SUMS").is_file() or not manifest_path.is_file():
        raise ExportError(f"{directory}: not an export (no SHA256SUMS and manifest.json); write the export first")
    if path.name in FILES or path.name.endswith(".csv"):
        raise ExportError(f"{path.name}: named like a file of the export")
    target = directory / path.name
    if path.resolve() != target.resolve():
        shutil.copyfile(path, target)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    files = {**manifest["files"], target.name: {"sha256": sha256_file(target), "bytes": target.stat().st_size}}
    manifest["files"] = {name: files[name] for name in sorted(files)}
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    from . import verify  # here: `python3 -m kb_export.verify` must not find it imported already

    names = sorted(p for p in directory.iterdir()
                   if p.name not in ("SHA256SUMS", verify.SIGNATURE) and not p.name.startswith("."))
    (directory / "SHA256SUMS").write_text("".join(f"{sha256_file(p)}  {p.name}\n" for p in names), encoding="utf-8")
    # the old signature signed the old SHA256SUMS: sign again, or leave the bundle unsigned
    (directory / verify.SIGNATURE).unlink(missing_ok=True)
    try:
        verify.sign(directory)
    except RuntimeError as err:
        raise ExportError(str(err)) from None
    return manifest
