"""The interchange: what another sphinx-needs project imports, at a fixed, versioned place.

Every HTML build writes ``interchange/v<major>/`` into the output, beside the pages:

- ``needs.json``: the needs.json sphinx-needs has just written, byte for byte, for
  ``needs_external_needs`` (``json_path`` or ``json_url``) or ``needimport``;
- ``ubproject.toml``: the model a consumer declares to read that file: every need type, link
  type and field of ubproject.toml with its vocabulary, the tag meanings, the phase ->
  covering type rule, and an ``[interchange]`` table (version, checksum of needs.json,
  which fields are project-relative). It is a valid ``needs_from_toml`` file on its own;
- ``SHA256SUMS``.

Only the declarations travel: layouts, the coverage rules and other checks are this site's
policy, which a consumer sets for itself. The version comes from ubproject.toml
``[kb.interchange]``; the guide page guide/exports.md says what a version promises and
CHANGELOG.md announces each one. ``.. kb-interchange-files::`` lists the files with links, and the build
fails if a listed file was not written."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

from docutils import nodes
from kb_export.bundle import sha256_file
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from ..build import placeholders, unchanged
from ..model import Model, model_of
from .site_files import built_needs_json, fill_file_lists
from .toml_writer import dumps

logger = logging.getLogger(__name__)
FILES = {
    "needs.json": "every need with its fields and links, as sphinx-needs wrote it",
    "ubproject.toml": "the model to declare before importing it: need types, link types, fields, "
                      "tags, the coverage rule, and the interchange version",
    "SHA256SUMS": "checksums of both: sha256sum -c SHA256SUMS",
}
# schema, derive and the type's per-field narrowing read best on one line each
INLINE = frozenset({"schema", "derive"})
HEADER = """\
# Interchange model of the IMDRF medical device cybersecurity knowledge base.
# Written by _ext/kb/publish/interchange.py from the site's ubproject.toml with every build:
# do not edit. Declare it in a project that imports needs.json of this directory; it is also
# a valid needs_from_toml file on its own. [interchange] says which version of the
# interchange this is; the site's guide (Exports and interchange) says what stays stable
# within a major version, and its CHANGELOG announces every version.
"""


def interchange_model(model: Model, needs_json: bytes) -> dict:
    """The published model: the declarations a consumer needs, and what the file is."""
    version, relative = model.interchange
    document = json.loads(needs_json)
    needs = document["versions"][document["current_version"]]["needs"]
    declared = model.needs
    return {
        "interchange": {
            "version": version,
            "project": str(document.get("project") or ""),
            "needs_json": "needs.json",
            "needs_json_sha256": hashlib.sha256(needs_json).hexdigest(),
            "needs_per_type": dict(sorted(Counter(n["type"] for n in needs.values()).items())),
            # with [kb.coverage] (phase -> covering type): how a requirement is covered
            "covering_links": model.covering_links,
            # values that describe this site's own traceability, not the requirement: a
            # consumer recomputes or clears them for its own project
            "project_relative": relative,
        },
        "needs": {key: declared[key] for key in ("types", "links", "fields")},
        "kb": {"tags": model.kb["tags"], "coverage": model.coverage_rule},
    }


def publish(confdir: str | Path, outdir: str | Path) -> Path:
    """Write the interchange of the needs.json in ``outdir``; returns its directory."""
    outdir = Path(outdir)
    model = model_of(confdir)
    target = outdir / model.interchange_dir
    needs_json = (outdir / "needs.json").read_bytes()
    text = dumps(interchange_model(model, needs_json), inline=INLINE, header=HEADER)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / "needs.json").write_bytes(needs_json)
    (target / "ubproject.toml").write_text(text, encoding="utf-8")
    sums = "".join(f"{sha256_file(target / name)}  {name}\n"
                   for name in ("needs.json", "ubproject.toml"))
    (target / "SHA256SUMS").write_text(sums, encoding="utf-8")
    return target


class interchange_files(nodes.General, nodes.Element):
    kb_shows_no_needs = "the files of the interchange, named by the model"


class InterchangeFilesDirective(SphinxDirective):
    """``.. kb-interchange-files::`` the interchange files with links, filled in when the
    page's URL is known."""

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(Path(self.env.app.confdir) / "ubproject.toml"))
        return [interchange_files()]


def fill_files(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    def files() -> list[tuple[str, str, str]]:
        where = model_of(app.confdir).interchange_dir
        return [(f"{where}/{name}", f"{where}/{name}", holds) for name, holds in FILES.items()]

    fill_file_lists(app, doctree, docname, interchange_files, files)


def publish_site(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html" or unchanged.settled(app):
        return
    built_needs_json(app, "kb.publish.interchange")
    target = publish(app.confdir, app.outdir)
    missing = sorted(name for name in FILES if not (target / name).is_file())
    if missing:
        raise ExtensionError(f"kb.publish.interchange: the page lists files that were not written: {missing}")
    logger.info(f"kb.publish.interchange: wrote {target.relative_to(app.outdir)}/")


def setup(app: Sphinx) -> dict:
    app.add_node(interchange_files)
    placeholders.register(interchange_files)
    app.add_directive("kb-interchange-files", InterchangeFilesDirective)
    app.connect("doctree-resolved", fill_files)
    # after sphinx-needs' build-finished handler (priority 500) has written needs.json
    app.connect("build-finished", publish_site, priority=700)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
