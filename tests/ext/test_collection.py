"""kb.build.hygiene's garbage collection: during a build the loaded environment is frozen and
young collections are rarer; afterwards the process has its own settings back, so a process
that runs builds in turn (a language server, a test) is left as it was."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import fixture_project

# Two builds in one process, the second incremental (its environment loaded from the first's
# pickle). The process starts with its own settings: the collector off, other thresholds.
IN_PROCESS = """
import gc, json, sys
from sphinx.application import Sphinx
from sphinx.util.docutils import docutils_namespace

src, out = sys.argv[1], sys.argv[2]
gc.disable()
gc.set_threshold(500, 7, 9)


def state():
    return {"enabled": gc.isenabled(), "threshold": list(gc.get_threshold()), "frozen": gc.get_freeze_count()}


seen = []
for build in ("first", "incremental"):
    with docutils_namespace():  # as sphinx-build: each application registers its directives anew
        app = Sphinx(src, src, out + "/html", out + "/doctrees", "html", status=None,
                     warningiserror=True, keep_going=True, confoverrides={"kb_export_in_build": "0"})
        app.connect("env-before-read-docs", lambda app, env, docnames: seen.append(("reading", state())))
        app.build(False, [])
    assert app.statuscode == 0, build
    seen.append(("after", state()))
json.dump(seen, sys.stdout)
"""


def test_a_build_freezes_the_loaded_environment_and_gives_the_settings_back(tmp_path):
    src = fixture_project("incremental", tmp_path)
    proc = subprocess.run([sys.executable, "-c", IN_PROCESS, str(src), str(tmp_path)],
                          capture_output=True, text=True, cwd=src)
    assert proc.returncode == 0, proc.stderr[-4000:]
    seen = json.loads(proc.stdout)
    assert [label for label, _ in seen] == ["reading", "after", "reading", "after"]
    (_, first), (_, after_first), (_, again), (_, after_again) = seen
    # the collector stays off (the process had turned it off); young collections after 10,000
    assert first["enabled"] is again["enabled"] is False
    assert first["threshold"] == again["threshold"] == [10_000, 7, 9]
    # frozen before reading: the incremental build's environment, loaded from the pickle
    assert again["frozen"] > first["frozen"] > 0
    own = {"enabled": False, "threshold": [500, 7, 9], "frozen": 0}
    assert after_first == after_again == own
