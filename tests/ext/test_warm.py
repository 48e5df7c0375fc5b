"""kb_shared.warm and tools/serve, the builds of make serve: a warm build writes what
sphinx-build writes with the same arguments, reports what sphinx-build reports, starts up
again after an edit to the configuration, and the server serves the pages with the reload
script and rebuilds them when a source is saved. No timings are asserted: tools/edit-cost
--serve measures them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, STRICT, fixture_project, pages, sphinx_build
from kb_shared.warm import WarmBuilds

TITLE_A = ".. req:: A requirement of section 5.1"


def serve_options(src, out) -> list[str]:
    return ["-b", "html", *STRICT, "-D", "kb_export_in_build=0", "-d", str(out.parent / "doctrees"), str(src), str(out)]


@pytest.fixture
def builds(tmp_path):
    src = fixture_project("incremental", tmp_path)
    warm = WarmBuilds(serve_options(src, tmp_path / "warm"))
    yield src, tmp_path / "warm", warm
    warm.close()


def edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path} has no {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_warm_build_writes_what_sphinx_build_writes(builds, tmp_path):
    src, out, warm = builds
    assert warm.build() == 0
    assert warm.ready()  # the next build's standby has started up, before the edit
    requirements = src / "pages" / "requirements.rst"
    edit(requirements, TITLE_A, ".. req:: Section 5.1, retitled")
    assert warm.build([requirements]) == 0
    assert "Section 5.1, retitled" in (out / "pages" / "requirements.html").read_text(encoding="utf-8")

    clean = sphinx_build(src, tmp_path / "clean", "-D", "kb_export_in_build=0")
    assert clean.returncode == 0, clean.output
    assert pages(out) == pages(clean.outdir)


def test_a_parallel_warm_build_writes_what_sphinx_build_writes(tmp_path):
    """make serve passes -j auto: the standby, a fork of the server's daemon process, forks
    Sphinx's workers (kb_serial_below=0: the fixture's few documents read in parallel too)."""
    src = fixture_project("incremental", tmp_path)
    warm = WarmBuilds([*serve_options(src, tmp_path / "warm"), "-j", "2", "-D", "kb_serial_below=0"])
    try:
        assert warm.build() == 0
    finally:
        warm.close()
    clean = sphinx_build(src, tmp_path / "clean", "-D", "kb_export_in_build=0")
    assert clean.returncode == 0, clean.output
    assert pages(tmp_path / "warm") == pages(clean.outdir)


def test_an_edit_to_the_configuration_starts_up_again(builds):
    src, out, warm = builds
    assert warm.build() == 0
    assert warm.ready()  # started up with the configuration as it was
    with open(src / "conf.py", "a", encoding="utf-8") as conf:
        conf.write('\nhtml_title = "Warm builds, configured again"\n')
    assert warm.build([src / "conf.py"]) == 0
    assert "Warm builds, configured again" in (out / "index.html").read_text(encoding="utf-8")


def test_failures_are_reported_as_sphinx_build_reports_them(builds, capfd):
    src, out, warm = builds
    assert warm.build() == 0
    capfd.readouterr()
    # a warning (an unknown need in a link): status 1, the warning on stderr
    requirements = src / "pages" / "requirements.rst"
    edit(requirements, "   The first requirement.", "   The first requirement, after :need:`REQ_FIXTURE_NONE`.")
    assert warm.build([requirements]) == 1
    assert "REQ_FIXTURE_NONE" in capfd.readouterr().err
    edit(requirements, ", after :need:`REQ_FIXTURE_NONE`.", ".")
    # a configuration that fails at start-up: status 2 and why, shown at the build (the
    # standby's start-up output is held until it is told to build)
    conf = src / "conf.py"
    sound = conf.read_text(encoding="utf-8")
    conf.write_text(sound + "\nextensions.append('kb_no_such_extension')\n", encoding="utf-8")
    capfd.readouterr()
    assert warm.build([conf]) == 2
    assert "kb_no_such_extension" in capfd.readouterr().err
    conf.write_text(sound, encoding="utf-8")
    assert warm.build([conf]) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode("utf-8")
    except OSError:
        return None


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"waited {seconds} s for {what}")


def processes():
    """(pid, session, state, command line) of each process (Linux's /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (name) ": state, ppid, pgrp, session
        yield int(entry.name), int(fields[3]), fields[0], command


def test_the_server_serves_the_pages_and_rebuilds_them_on_save(tmp_path):
    src = fixture_project("incremental", tmp_path)
    out = tmp_path / "html"
    port = free_port()
    log = open(tmp_path / "serve.log", "w+", encoding="utf-8")
    server = subprocess.Popen([sys.executable, str(ROOT / "tools" / "serve"), "--port", str(port), "--",
                               *serve_options(src, out)], cwd=src, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}/pages/requirements.html"
    try:
        page = wait_for(lambda: fetch(url), 180, f"the server at {url}\n{log.name}")
        assert "A requirement of section 5.1" in page
        assert "/websocket-reload" in page  # the reload script, injected into the page served
        edit(src / "pages" / "requirements.rst", TITLE_A, ".. req:: Section 5.1, saved while serving")
        wait_for(lambda: "Section 5.1, saved while serving" in (fetch(url) or ""), 120, "the rebuilt page")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
    log.seek(0)
    output = log.read()
    assert server.returncode == 0, output
    assert "[serve] changed: pages/requirements.rst; rebuilding" in output
    # nothing left running: the keeper and its standby stopped with the server (an exited
    # process waits to be reaped by init, which in a container may never come)
    def running() -> list[str]:
        return [f"{pid}: {command}" for pid, session, state, command in processes()
                if session == server.pid and state != "Z"]

    # (multiprocessing's resource tracker sees the server gone a moment after it is)
    wait_for(lambda: not running(), 10, f"the server's processes to stop (running when it stopped: {running()})\n{output}")
