"""Check an export bundle: is it the one that was published?

``python3 -m kb_export.verify BUNDLE [--allowed-signers FILE] [--require-signature]``

* every file the bundle holds is listed in SHA256SUMS with its checksum, and no listed file is
  missing;
* the manifest lists the same files with the same checksums, and names the source commit and
  the tools that wrote the bundle;
* when the bundle is signed (SHA256SUMS.sig, an SSH signature made with ``ssh-keygen -Y sign``
  when KB_SIGNING_KEY was set), the signature verifies against the allowed-signers file: a
  key of a maintainer, kept in the repository.

Every file that differs is named; a failure is one line per problem on stderr and exit 1."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from .bundle import sha256_file

SUMS, SIGNATURE, MANIFEST = "SHA256SUMS", "SHA256SUMS.sig", "manifest.json"
NAMESPACE = "kb-export-bundle"  # what a signature is for: an SSH signature of another namespace does not count
SIGNING_KEY = "KB_SIGNING_KEY"  # the environment variable naming the private key that signs


def sign(bundle: Path) -> Path | None:
    """Sign SHA256SUMS with the SSH key KB_SIGNING_KEY names, if it is set; no network."""
    key = os.environ.get(SIGNING_KEY)
    if not key:
        return None
    proc = subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-f", key, "-n", NAMESPACE, str(bundle / SUMS)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{SIGNING_KEY}={key}: ssh-keygen could not sign: {proc.stderr.strip()}")
    return bundle / SIGNATURE


def check(bundle: Path, allowed_signers: Path | None, require_signature: bool = False) -> tuple[list[str], list[str]]:
    """(facts, problems): what was checked, and every difference found."""
    facts, problems = [], []
    sums_path = bundle / SUMS
    if not sums_path.is_file():
        return facts, [f"{bundle}: no {SUMS}: not an export bundle"]
    listed: dict[str, str] = {}
    for number, line in enumerate(sums_path.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or "/" in name:
            problems.append(f"{SUMS} line {number}: not '<sha256>  <file name>'")
            continue
        listed[name] = digest
    present = {p.name for p in bundle.iterdir() if p.is_file()} - {SUMS, SIGNATURE}
    for name in sorted(set(listed) - present):
        problems.append(f"{name}: listed in {SUMS} but missing")
    for name in sorted(present - set(listed)):
        problems.append(f"{name}: in the bundle but not listed in {SUMS}")
    for name in sorted(set(listed) & present):
        if sha256_file(bundle / name) != listed[name]:
            problems.append(f"{name}: differs from its checksum in {SUMS}")
    facts.append(f"{len(listed)} files checked against {SUMS}")
    try:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        export = manifest["export"]
    except (OSError, ValueError, KeyError, TypeError):
        problems.append(f"{MANIFEST}: missing or not a manifest of this exporter")
    else:
        for name, entry in sorted(files.items()):
            if listed.get(name) != (entry or {}).get("sha256"):
                problems.append(f"{name}: its checksum in {MANIFEST} differs from {SUMS}")
        for name in sorted(set(listed) - set(files) - {MANIFEST}):
            problems.append(f"{name}: listed in {SUMS} but not in {MANIFEST}")
        commit = export.get("source commit")
        tools = export.get("tools", {})
        facts.append(f"source commit {commit or '(none recorded)'}; exporter {tools.get('exporter', '?')}")
    signature = bundle / SIGNATURE
    if signature.is_file():
        problems += _check_signature(sums_path, signature, allowed_signers, facts)
    elif require_signature:
        problems.append(f"{SUMS}: not signed ({SIGNATURE} missing)")
    else:
        facts.append(f"not signed: the files are intact, but who published them is not proven ({SIGNATURE} missing)")
    return facts, problems


def _check_signature(sums: Path, signature: Path, allowed: Path | None, facts: list[str]) -> list[str]:
    if allowed is None or not allowed.is_file():
        return [f"{SIGNATURE}: no allowed-signers file to check it against ({allowed})"]
    found = subprocess.run(["ssh-keygen", "-Y", "find-principals", "-s", str(signature), "-f", str(allowed)],
                           capture_output=True, text=True)
    principals = found.stdout.split()
    if found.returncode or not principals:
        return [f"{SIGNATURE}: not made by a key of {allowed}"]
    with open(sums, "rb") as data:
        proc = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", principals[0], "-n", NAMESPACE,
                               "-s", str(signature)], stdin=data, capture_output=True, text=True)
    if proc.returncode:
        return [f"{SIGNATURE}: bad signature of {SUMS} ({proc.stderr.strip() or proc.stdout.strip()})"]
    facts.append(f"signed by {principals[0]} (allowed in {allowed})")
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m kb_export.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--allowed-signers", type=Path)
    parser.add_argument("--require-signature", action="store_true")
    args = parser.parse_args(argv)
    facts, problems = check(args.bundle, args.allowed_signers, args.require_signature)
    for problem in problems:
        print(f"verify: {args.bundle}: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"verify: {args.bundle}: OK; " + "; ".join(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
