"""The page "Changes since the previous release", generated at build time.

Releases are tags ``v<major>.<minor>``. When a release tag precedes the commit being built
(HEAD's own tag does not count), its needs.json is built once, with that version's own lock, in
a temporary worktree, and cached by commit under ``_build/changes-cache`` of the source
directory (kb_shared.versions). ``.. kb-release-changes::`` then shows what changed since it:
the same rows as ``make changes`` (kb_export.changes), with text changes word by word. At
build-finished the same report is written as ``changes/`` of the output (HTML, XLSX, JSON),
and the export bundle carries the three files under its SHA256SUMS.

A build made to compare versions (KB_CHANGES_NESTED) does not look for a release of its own,
and a source tree without git history, or with no release before it, says so on the page."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

from docutils import nodes
from kb_export import changes
from kb_export.needs import ExportError, from_document, load
from kb_shared import versions
from kb_shared.tables import table
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective
from sphinx_needs.api import get_needs_view

from ..build import placeholders

REPORT_DIR = "changes"  # in the output, beside export/


class release_changes(nodes.General, nodes.Element):
    kb_shows_all_needs = True  # for the incremental rebuild (kb.build.rebuild)


class ReleaseChangesDirective(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        return [release_changes()]


def find_release(app: Sphinx) -> None:
    """``builder-inited``: the previous release and its needs.json, or None."""
    app.kb_release = None
    repo = Path(app.srcdir)
    if os.environ.get(versions.NESTED) or not (repo / ".git").exists():
        return
    tag = versions.previous_release(repo)
    if tag is None:
        return
    try:
        commit, path = versions.needs_json(repo, tag, repo / "_build" / "changes-cache")
    except versions.VersionError as err:
        raise ExtensionError(f"kb.publish.release: the previous release {tag}: {err}") from None
    app.kb_release = (tag, commit, path)


def current_needs(app: Sphinx):
    """This build's needs as its needs.json will hold them: sphinx-needs leaves out the fields
    of needs_json_exclude_fields, and the values go through JSON."""
    excluded = set(app.config.needs_json_exclude_fields)
    needs = {need_id: {k: v for k, v in need.items() if k not in excluded}
             for need_id, need in get_needs_view(app).items()}
    document = json.loads(json.dumps({"current_version": "", "versions": {"": {"needs": needs}}}, default=str))
    return from_document(document, Path("this build"))


def report_of(app: Sphinx) -> changes.Report | None:
    if getattr(app, "kb_release", None) is None:
        return None
    if getattr(app, "kb_release_report", None) is None:
        tag, commit, path = app.kb_release
        old = load(path)
        head = versions.git(Path(app.srcdir), "rev-parse", "HEAD", check=False)
        new_side = changes.Side("this version", head, "")
        app.kb_release_report = changes.compare(old, current_needs(app),
                                                changes.Side(tag, commit, hashlib.sha256(old.raw).hexdigest()),
                                                new_side)
    return app.kb_release_report


def _ref(app: Sphinx, docname: str, need_id: str) -> nodes.Node:
    needs = get_needs_view(app)
    if need_id not in needs:
        return nodes.literal(text=need_id)
    uri = app.builder.get_relative_uri(docname, needs[need_id]["docname"]) + "#" + need_id
    para = nodes.reference("", "", refuri=uri, internal=True)
    para += nodes.literal(text=need_id)
    return para


def _para(*children: nodes.Node) -> nodes.paragraph:
    para = nodes.paragraph()
    for child in children:
        para += child
    return para


def _diff(old: str, new: str) -> nodes.paragraph:
    para = nodes.paragraph()
    for op, text in changes.word_ops(old, new):
        para += nodes.inline(text=text, classes=[f"kb-{op}"]) if op != "same" else nodes.Text(text)
    return para


def render(app: Sphinx, docname: str, report: changes.Report) -> list[nodes.Node]:
    out: list[nodes.Node] = [nodes.paragraph(text=(
        f"Since {report.old.label} ({report.old.commit[:12]}): "
        + ", ".join(f"{v} {k}" for k, v in report.summary.items()) + ". Removed words are struck "
        "through, added words marked. The same report is in changes/ of the site (HTML, XLSX, "
        "JSON) and in the export bundle."))]
    ref = lambda need_id: _para(_ref(app, docname, need_id))  # noqa: E731
    sections = [
        ("Needs added", ["ID", "Type", "Title"], [[ref(r["id"]), r["type"], r["title"]] for r in report.added]),
        ("Needs removed", ["ID", "Type", "Title"], [[_para(nodes.literal(text=r["id"])), r["type"], r["title"]]
                                                    for r in report.removed]),
        ("Fields changed", ["ID", "Field", "Change"],
         [[ref(r["id"]), r["field"], _diff(changes.as_text(r["old"]), changes.as_text(r["new"]))] for r in report.changed]),
        ("Links", ["ID", "Link type", "Target", "Change"],
         [[ref(r["id"]), r["link"], _para(nodes.literal(text=r["target"])), r["change"]] for r in report.links]),
        ("Coverage changes", ["ID", "Old", "New"],
         [[ref(r["id"]), changes.as_text(r["old"]), changes.as_text(r["new"])] for r in report.coverage]),
        ("Suspect links raised", ["ID", "Target"], [[ref(r["id"]), ref(r["target"])] for r in report.suspect]),
    ]
    for title, header, rows in sections:
        out.append(nodes.rubric(text=title))
        out.append(table(header, rows, ["kb-release-changes"]) if rows else nodes.paragraph(text="None."))
    return out


def fill(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in placeholders.on_page(app, doctree, release_changes):
        report = report_of(app)
        if report is None:
            node.replace_self(nodes.paragraph(text=(
                "No earlier release: no tag v<major>.<minor> precedes the version this site was built "
                "from, so there is nothing to compare it with yet. The next release's site lists here "
                "what changed since this one.")))
        else:
            node.replace_self(render(app, docname, report))


def write_report(app: Sphinx, exception) -> None:
    """``build-finished``, before the export: the report as files, for the bundle too."""
    app.kb_release_files = []
    if exception is not None or app.builder.format != "html" or (report := report_of(app)) is None:
        return
    when = datetime.fromisoformat(versions.git(Path(app.srcdir), "show", "-s", "--format=%cI", "HEAD"))
    try:
        app.kb_release_files = changes.write(report, Path(app.outdir) / REPORT_DIR, when)
    except ExportError as err:
        raise ExtensionError(f"kb.publish.release: {err}") from None


def setup(app: Sphinx) -> dict:
    app.add_node(release_changes)
    placeholders.register(release_changes)
    app.add_directive("kb-release-changes", ReleaseChangesDirective)
    app.connect("builder-inited", find_release)
    app.connect("doctree-resolved", fill)
    app.connect("build-finished", write_report, priority=700)  # the export runs at 800
    return {"parallel_read_safe": True, "parallel_write_safe": True}
