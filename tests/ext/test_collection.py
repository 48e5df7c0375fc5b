"""kb.build.hygiene's garbage collection: during a build the loaded environment is frozen and
young collections are rarer; afterwards the process has its own settings back, so a process
that runs builds in turn (a language server, a test) is left as it was. Doctrees are taken
apart once Sphinx is done with them, and the pages are the same as with them kept whole."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, assert_same_pages, fixture_project, sphinx_build

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


# One build in a process, each doctree kept by reference as Sphinx hands it out: when it has
# been read (doctree-read) and when it is written (doctree-resolved); after the build, which
# of them are still whole (a document node with children).
DOCTREES_AFTER = """
import json, sys
from sphinx.application import Sphinx

src, out, builder, take_apart = sys.argv[1:5]
read, written = [], []
app = Sphinx(src, src, out + "/" + builder, out + "/doctrees", builder, status=None,
             warningiserror=True, keep_going=True,
             confoverrides={"kb_export_in_build": "0", "kb_take_apart_doctrees": take_apart})
app.connect("doctree-read", lambda app, doctree: read.append(doctree))
app.connect("doctree-resolved", lambda app, doctree, docname: written.append(doctree))
app.build(False, [])
assert app.statuscode == 0
whole = lambda doctrees: sum(1 for doctree in doctrees if vars(doctree).get("children"))
json.dump({"read": len(read), "read_whole": whole(read), "written": len(written),
           "written_whole": whole(written)}, sys.stdout)
"""


def doctrees_after(src, out, builder: str, take_apart: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", DOCTREES_AFTER, str(src), str(out), builder, take_apart],
                          capture_output=True, text=True, cwd=src)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("builder", ["html", "dirhtml", "singlehtml"])
def test_doctrees_are_taken_apart_once_used_and_the_pages_are_the_same(tmp_path, builder):
    src = fixture_project("incremental", tmp_path)
    apart = doctrees_after(src, tmp_path / "apart", builder, "1")
    whole = doctrees_after(src, tmp_path / "whole", builder, "0")
    assert apart["read"] == whole["read"] > 3
    assert whole["read_whole"] == whole["read"] and whole["written_whole"] == whole["written"]
    # every document read is taken apart once pickled; every page once written, but for
    # singlehtml, which writes one tree assembled from all of them
    assert apart["read_whole"] == 0
    assert apart["written_whole"] == (whole["written"] if builder == "singlehtml" else 0)
    assert_same_pages(tmp_path / "apart" / builder, tmp_path / "whole" / builder, ("taken apart", "whole"))


def test_every_page_of_the_site_is_the_same_with_its_doctrees_kept_whole(site, tmp_path):
    whole = sphinx_build(ROOT, tmp_path / "html", "-E", "-D", "kb_take_apart_doctrees=0")
    assert whole.returncode == 0, whole.output[-6000:]
    assert_same_pages(site.outdir, whole.outdir, ("taken apart", "whole"))
