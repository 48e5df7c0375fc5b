"""Warm builds for ``make serve``: sphinx-build's own work, with its start-up done before the
edit it builds.

An incremental build of the real site spends about a second before it reads the edited
page: importing Sphinx, sphinx-needs, furo and the project's extensions (0.4 s), then
setting the extensions up and loading the environment the last build pickled (0.5 s). A
live preview needs none of that to wait for the edit.

``WarmBuilds`` keeps a process, the keeper (started with the "spawn" method: it copies no
thread of the server that calls it), that holds the imported modules and forks a standby
for the next build. The standby runs sphinx-build's own ``build_main`` with the same
arguments, up to the start of ``Sphinx.build``: the configuration read, the extensions set
up, the environment loaded. There it waits to be told to build, with what it has printed so
far held back, so the console shows what a cold build shows, in the same order. It builds,
exits with sphinx-build's status and tells the keeper which modules it imported (a page
with a chart imports matplotlib), which the keeper imports for the next standbys. A new
standby is made after each build, in the time an author takes to make the next edit.

What the start-up reads (the configuration: conf.py, docutils.conf, ubproject.toml, the
extensions under _ext/, the templates) is read again only by a new keeper: an edit to it
starts one, and its build is a cold one. A standby has written nothing, so one that is not
needed is killed. Every other file is read by the build itself, after the edit.

The HTML of a warm build is the HTML of ``sphinx-build`` run with the same arguments (the
test builds both and compares them)."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import select
import signal
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

# read at start-up; an edit to one of them needs a new keeper (paths relative to confdir)
CONFIGURATION_FILES = {"conf.py", "docutils.conf", "ubproject.toml"}
CONFIGURATION_FOLDERS = {"_ext", "_templates"}
BUILD = b"b"


class WarmBuilds:
    """sphinx-build ``argv`` (its own arguments, without the program name), built again on
    request. Call ``build(changed_paths)`` for each build, ``close()`` at the end."""

    def __init__(self, argv: list[str]):
        from sphinx.cmd.build import get_parser

        self.argv = list(argv)
        self.args = get_parser().parse_args(self.argv)  # sphinx-build's reading of them
        self.confdir = Path(self.args.confdir or self.args.sourcedir).resolve()
        self.keeper: tuple[multiprocessing.Process, object] | None = None

    def build(self, changed_paths: Iterable[os.PathLike | str] = ()) -> int:
        """Build now; sphinx-build's exit status (2 when the build could not run)."""
        if self.keeper is None or self.is_configuration(changed_paths):
            self._start_keeper()
        process, connection = self.keeper
        connection.send("build")
        try:
            return connection.recv()
        except EOFError:  # the keeper died (killed, out of memory): the next build starts one
            self.keeper = None
            return 2

    def ready(self) -> bool:
        """Wait until the next build's standby has started up; False when its start-up
        failed. For a measurement that times the build alone, as an author who saves a while
        after the last build sees it."""
        if self.keeper is None:
            return False
        process, connection = self.keeper
        connection.send("ready")
        return connection.recv()

    def is_configuration(self, paths: Iterable[os.PathLike | str]) -> bool:
        for path in paths:
            try:
                relative = Path(path).resolve().relative_to(self.confdir)
            except ValueError:
                continue
            if relative.as_posix() in CONFIGURATION_FILES or set(relative.parts[:1]) & CONFIGURATION_FOLDERS:
                return True
        return False

    def close(self) -> None:
        if self.keeper is None:
            return
        process, connection = self.keeper
        try:
            connection.send("quit")
        except (BrokenPipeError, OSError):
            pass
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()
        self.keeper = None

    def _start_keeper(self) -> None:
        self.close()
        context = multiprocessing.get_context("spawn")  # sys.path goes with it
        ours, theirs = context.Pipe()
        process = context.Process(target=keep, args=(theirs, self.argv), daemon=True, name="warm-builds keeper")
        process.start()
        theirs.close()
        self.keeper = (process, ours)


def keep(connection, argv: list[str]) -> None:
    """The keeper: answers requests, with a standby started up for the next build."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C stops the server, which says quit
    import sphinx.application  # noqa: F401  what every standby needs, imported once
    import sphinx.cmd.build  # noqa: F401

    standby = Standby(argv)
    while True:
        try:
            request = connection.recv()
        except EOFError:  # the server is gone
            request = "quit"
        if request == "quit":
            standby.kill()
            return
        if request == "ready":
            connection.send(standby.wait_ready())
            continue
        status, modules = standby.build()
        connection.send(status)  # the server reloads the page now; the next standby can wait
        import_modules(modules)
        standby = Standby(argv)


def import_modules(names: list[str]) -> None:
    """Import what the last build imported, for the next standbys; a module that does not
    import here is left to them."""
    import importlib

    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001  only a head start: the standby imports it itself
            continue


class Standby:
    """A forked process waiting at the start of ``Sphinx.build`` to be told to build."""

    def __init__(self, argv: list[str]):
        go_read, self.go = os.pipe()
        ready_read, ready_write = os.pipe()
        report_read, report_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the standby
            for fd in (self.go, ready_read, report_read):
                os.close(fd)
            os._exit(run_standby(argv, go_read, ready_write, report_write))  # no teardown
        for fd in (go_read, ready_write, report_write):
            os.close(fd)
        self.ready, self.report = ready_read, report_read
        self.is_ready = False

    def wait_ready(self) -> bool:
        if not self.is_ready:
            # a byte when the build may start; end of file when the start-up failed
            self.is_ready = os.read(self.ready, 1) == BUILD
        return self.is_ready

    def build(self) -> tuple[int, list[str]]:
        """Tell it to build; its exit status and the modules it imported."""
        try:
            os.write(self.go, BUILD)
        except BrokenPipeError:  # it crashed
            self.kill()
            return 2, []
        with os.fdopen(self.report, "rb") as report:
            text = report.read()
        _, wait_status = os.waitpid(self.pid, 0)
        self._close(self.go, self.ready)
        status = os.waitstatus_to_exitcode(wait_status)
        return (status if status >= 0 else 2), (json.loads(text) if text else [])

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        self._close(self.go, self.ready, self.report)

    @staticmethod
    def _close(*fds: int) -> None:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


def run_standby(argv: list[str], go: int, ready: int, report: int) -> int:
    """sphinx-build ``argv`` in the standby, held at the start of ``Sphinx.build`` until the
    keeper says build. What it prints before is held back, then shown: a cold build's console."""
    held = [HeldOutput(1), HeldOutput(2)]
    told = False
    # a fork of the keeper, which is the server's daemon process: the flag came with the fork,
    # and multiprocessing refuses a daemon's children, which a parallel build (-j) starts
    multiprocessing.current_process().daemon = False

    def release() -> None:
        for output in held:
            output.release()

    from sphinx.application import Sphinx
    from sphinx.cmd.build import build_main

    build = Sphinx.build

    @functools.wraps(build)
    def build_when_told(app, *args, **kwargs):
        nonlocal told
        os.write(ready, BUILD)
        told = os.read(go, 1) == BUILD
        if not told:  # the keeper is gone
            os._exit(0)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl+C stops a build as it would sphinx-build
        release()
        return build(app, *args, **kwargs)

    Sphinx.build = build_when_told
    try:
        status = build_main(argv)
    except SystemExit as exit:  # an extension stopping the build with a message, as sphinx-build would
        if isinstance(exit.code, str):
            print(exit.code, file=sys.stderr)
        status = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    if not told:
        if status == 0:  # built without passing through Sphinx.build: before the edit
            print("error: kb_shared.warm: sphinx-build no longer builds through Sphinx.build, so a "
                  "standby cannot wait for the edit; adapt _ext/kb_shared/warm.py", file=sys.stderr)
            status = 2
        # Or the start-up failed. It read the configuration (an edit to it starts a new
        # keeper) and the last build's environment, not the edit: either way this is the
        # answer to the next build asked for, shown then (or never, when the keeper quits first).
        os.close(ready)
        if select.select([go], [], [], None)[0] and os.read(go, 1) == BUILD:
            release()
    sys.stdout.flush()
    sys.stderr.flush()
    write_all(report, json.dumps([name for name in sys.modules if not name.startswith("__")]).encode())
    return status


def write_all(fd: int, data: bytes) -> None:
    """os.write writes what the file takes at once: a pipe may take part of it."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class HeldOutput:
    """A file descriptor (1 or 2) written to a temporary file until ``release``."""

    def __init__(self, fd: int):
        self.fd = fd
        self.file = tempfile.TemporaryFile()
        self.saved = os.dup(fd)
        os.dup2(self.file.fileno(), fd)

    def release(self) -> None:
        if self.file is None:
            return
        (sys.stdout if self.fd == 1 else sys.stderr).flush()
        os.dup2(self.saved, self.fd)
        self.file.seek(0)
        write_all(self.fd, self.file.read())
        self.file.close()
        self.file = None
