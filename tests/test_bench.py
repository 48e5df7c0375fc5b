"""The benchmark generator (tools/bench.py) at a tiny size. No timings are asserted:
`make bench` reports them."""

import importlib.util
import json
import subprocess
import sys

from conftest import ROOT

spec = importlib.util.spec_from_file_location("bench", ROOT / "tools" / "bench.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_bench_runs_at_a_tiny_size(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "bench.py"), "--sizes", "60", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["case"] for r in results] == list(bench.CASES)
    for r in results:
        assert {"needs", "case", "seconds", "peak_rss_mb"} <= set(r) and r["needs"] == 60
        if r.get("skipped"):
            assert r["seconds"] is None and "not in this tree" in r["skipped"]
        else:
            assert r["seconds"] > 0 and (r["peak_rss_mb"] is None or r["peak_rss_mb"] > 0)
    assert not any(r.get("skipped") for r in results if r["case"] in ("full", "noop", "edit", "floor"))
    needs = json.loads((tmp_path / "60" / "html" / "needs.json").read_text())
    needs = needs["versions"][needs["current_version"]]["needs"]
    assert len(needs) == 60 and {n["type"] for n in needs.values()} == set(bench.TITLE)
    for name in ("needs", "case", "seconds", "peak MB", "x floor"):
        assert name in proc.stdout
