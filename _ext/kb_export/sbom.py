"""A CycloneDX SBOM (JSON) of the Python environment that ran the export, so an auditor can
see which tools, at which versions, produced the files.

It is the ``cyclonedx-py environment`` command of the cyclonedx-bom package run on this
interpreter, with ``--output-reproducible`` (no random serial number, no time of writing)
and SOURCE_DATE_EPOCH set to the source commit's date, which becomes the SBOM's timestamp.
The serial number is then derived from the content, so the same environment and commit give
the same bytes. The command's own schema validation is switched off: it takes about twenty
seconds on every build; tests/test_export.py validates the SBOM instead.

The command takes 0.6 s, on the path of every build of the site that exports (an edit's
export waits for it): given a ``cache`` directory (the site's build gives one beside its
doctrees), an SBOM is kept there under a key of everything it is made from (the
interpreter, the installed distributions and their versions, the epoch, the subject, the
command's options) and copied from there while the key holds. The command line exports
without a cache."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import uuid
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from .needs import ExportError


MISSING = ("cannot write the SBOM: the package cyclonedx-bom is not installed "
           "(install it, or export with --no-sbom)")


def available() -> bool:
    return find_spec("cyclonedx_py") is not None


COMMAND = ["-m", "cyclonedx_py", "environment", "--output-reproducible", "--no-validate", "--of", "JSON",
           "--sv", "1.6", "-o", "-"]


def write(path: Path, epoch: int, subject: str, cache: Path | None = None) -> None:
    if not available():
        raise ExportError(MISSING)
    kept = cache / f"{cache_key(epoch, subject)}.cdx.json" if cache is not None else None
    if kept is not None and kept.is_file():
        shutil.copyfile(kept, path)
        return
    _write(path, epoch, subject)
    if kept is not None:
        cache.mkdir(parents=True, exist_ok=True)
        for old in cache.glob("*.cdx.json"):  # one environment at a time
            old.unlink()
        partial = kept.with_suffix(".partial")  # a copy cut short is never taken for the SBOM
        shutil.copyfile(path, partial)
        os.replace(partial, kept)


@functools.cache  # a process does not install packages while it exports
def installed() -> tuple[tuple[str, str], ...]:
    """The installed distributions and their versions, sorted."""
    return tuple(sorted({(d.metadata["Name"] or "", d.version) for d in metadata.distributions()}))


def cache_key(epoch: int, subject: str) -> str:
    inputs = [sys.executable, platform.python_version(), installed(), epoch, subject, COMMAND]
    return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()


def _write(path: Path, epoch: int, subject: str) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "PYTHONHASHSEED": "0"}
    proc = subprocess.run([sys.executable, *COMMAND, sys.executable],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise ExportError(f"cyclonedx-py environment failed (exit {proc.returncode}): {last}")
    bom = json.loads(proc.stdout)
    # what was built with these tools: the export itself, named after the project and commit
    bom.setdefault("metadata", {})["component"] = {
        "type": "data", "bom-ref": "export", "name": subject,
        "description": "Audit export (XLSX, CSV, ReqIF, needs.json) built with the components below"}
    body = json.dumps(bom, indent=2, sort_keys=True, ensure_ascii=False)
    serial = uuid.uuid5(uuid.NAMESPACE_URL, "urn:sha256:" + hashlib.sha256(body.encode()).hexdigest())
    bom["serialNumber"] = f"urn:uuid:{serial}"
    path.write_text(json.dumps(bom, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
