"""A bundle anyone can verify (make verify, kb_export.verify): a signed bundle verifies; a
bundle with one byte changed, a file added or removed, a signature by a key not allowed, or a
changed SHA256SUMS fails, naming the file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_exporter

ALLOWED = ROOT / "tools" / "allowed_signers"


def keypair(directory: Path, name: str) -> Path:
    key = directory / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key


def allowed_file(directory: Path, key: Path, principal: str) -> Path:
    public = key.with_suffix(".pub").read_text().split()[:2]
    path = directory / "allowed_signers"
    path.write_text(f'{principal} namespaces="kb-export-bundle" {" ".join(public)}\n')
    return path


def verify(bundle: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kb_export.verify", str(bundle), *args], capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT / "_ext"), "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("keys")
    release, stranger = keypair(directory, "release"), keypair(directory, "stranger")
    return {"release": release, "stranger": stranger,
            "allowed": allowed_file(directory, release, "release@example.org")}


@pytest.fixture(scope="module")
def signed(site, keys, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("signed") / "export"
    proc = run_exporter(str(site.outdir / "needs.json"), "-o", str(out), "--no-sbom",
                        env={"KB_SIGNING_KEY": str(keys["release"])})
    assert proc.returncode == 0, proc.stderr
    assert (out / "SHA256SUMS.sig").is_file()
    return out


def copy(bundle: Path, tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(bundle, target)
    return target


def test_a_signed_bundle_verifies(signed, keys):
    proc = verify(signed, "--allowed-signers", str(keys["allowed"]), "--require-signature")
    assert proc.returncode == 0, proc.stderr
    assert "OK" in proc.stdout and "signed by release@example.org" in proc.stdout
    assert "source commit" in proc.stdout


def test_one_byte_changed_names_the_file(signed, keys, tmp_path):
    bundle = copy(signed, tmp_path)
    data = bytearray((bundle / "traceability.xlsx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / "traceability.xlsx").write_bytes(bytes(data))
    proc = verify(bundle, "--allowed-signers", str(keys["allowed"]))
    assert proc.returncode == 1
    assert proc.stderr == f"verify: {bundle}: traceability.xlsx: differs from its checksum in SHA256SUMS\n"


def test_a_file_added_or_removed_is_named(signed, keys, tmp_path):
    bundle = copy(signed, tmp_path)
    (bundle / "extra.csv").write_text("a,b\n")
    (bundle / "crosswalk.csv").unlink()
    proc = verify(bundle, "--allowed-signers", str(keys["allowed"]))
    assert proc.returncode == 1
    assert "crosswalk.csv: listed in SHA256SUMS but missing" in proc.stderr
    assert "extra.csv: in the bundle but not listed in SHA256SUMS" in proc.stderr


def test_sums_rewritten_to_match_a_changed_file_break_the_signature(signed, keys, tmp_path):
    bundle = copy(signed, tmp_path)
    (bundle / "requirements.csv").write_text("id\nREQ_FORGED\n")
    import hashlib
    digest = hashlib.sha256((bundle / "requirements.csv").read_bytes()).hexdigest()
    lines = [f"{digest}  requirements.csv" if l.endswith("  requirements.csv") else l
             for l in (bundle / "SHA256SUMS").read_text().splitlines()]
    (bundle / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    proc = verify(bundle, "--allowed-signers", str(keys["allowed"]))
    assert proc.returncode == 1
    assert "SHA256SUMS.sig: bad signature of SHA256SUMS" in proc.stderr
    assert "requirements.csv: its checksum in manifest.json differs from SHA256SUMS" in proc.stderr


def test_a_key_not_allowed_fails(site, keys, tmp_path):
    out = tmp_path / "export"
    proc = run_exporter(str(site.outdir / "needs.json"), "-o", str(out), "--no-sbom",
                        env={"KB_SIGNING_KEY": str(keys["stranger"])})
    assert proc.returncode == 0, proc.stderr
    proc = verify(out, "--allowed-signers", str(keys["allowed"]))
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(f"SHA256SUMS.sig: not made by a key of {keys['allowed']}")


def test_unsigned_bundle_is_intact_but_not_proven(signed, keys, tmp_path):
    bundle = copy(signed, tmp_path)
    (bundle / "SHA256SUMS.sig").unlink()
    proc = verify(bundle, "--allowed-signers", str(keys["allowed"]))
    assert proc.returncode == 0 and "not signed" in proc.stdout
    proc = verify(bundle, "--allowed-signers", str(keys["allowed"]), "--require-signature")
    assert proc.returncode == 1 and "SHA256SUMS: not signed" in proc.stderr


def test_the_repositorys_allowed_signers_hold_keys_for_bundles_only():
    lines = [l for l in ALLOWED.read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert lines
    for line in lines:
        principal, options, kind, key = line.split()[:4]
        assert options == 'namespaces="kb-export-bundle"', line
        check = subprocess.run(["ssh-keygen", "-l", "-f", "/dev/stdin"], input=f"{kind} {key}\n",
                               capture_output=True, text=True)
        assert check.returncode == 0, line


def test_a_bad_signing_key_stops_the_export(site, tmp_path):
    proc = run_exporter(str(site.outdir / "needs.json"), "-o", str(tmp_path / "out"), "--no-sbom",
                        env={"KB_SIGNING_KEY": str(tmp_path / "no-such-key")})
    assert proc.returncode != 0
    assert "KB_SIGNING_KEY=" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()
