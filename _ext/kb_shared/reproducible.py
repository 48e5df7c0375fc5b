"""Reproducible output: one commit builds to the same bytes, wherever and whenever it is built.
A Sphinx extension of its own, loaded by the site (through ``kb``) and by a device project.

Two things sphinx-needs writes differ from build to build:

- the box of every need is wrapped in a container with a random ID (``"SNCB-" +
  uuid4()[:8]`` in sphinx_needs/layout.py), so every page with a need changes on every build.
  Its collapse script (sphinx_needs_collapse.js) only needs that ID to start with ``SNCB-`` and
  to be unique on the page: it becomes ``SNCB-`` + the need's ID.
- schema_violations.json states how long the validation took. The timing is dropped; the
  count of warnings and of validated needs stays.

needs.json is already reproducible (``reproducible_json`` in ubproject.toml).

One thing depends on how the needs were read rather than on the sources: their order. A full
build reads the documents in the order of their names and adds their needs in that order; an
incremental build drops the needs of a re-read document and adds them again at the end (and a
parallel build merges its workers' needs as they finish). Every view that lists needs in the
order it finds them (a needflow's graph, back links, a need_count's walk) then differs from a
full build's. Before the needs are resolved they are put back in the order a full build reads
them: by document name, and in each document in the order written."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx

from .trees import FINISHING, finished_page

PREFIX = "SNCB-"
REPORT = "schema_violations.json"
# "... with 0 warning(s) in 0.893 seconds. Validated 577 needs/s."
TIMING = re.compile(r" in [0-9.]+ seconds\. Validated \S+ needs/s\.$")


def stable_container_ids(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    seen: Counter[str] = Counter()
    boxes = [node for node in finished_page(doctree)
             if isinstance(node, nodes.container) and "need_container" in node["classes"]]
    for container in boxes:
        table = next(iter(container.findall(nodes.table)), None)
        if table is None or not table["ids"]:
            continue
        need_id = table["ids"][0]
        seen[need_id] += 1
        # the same need shown twice on a page (e.g. by needextract) needs two IDs
        stable = PREFIX + need_id + (f"-{seen[need_id]}" if seen[need_id] > 1 else "")
        container["ids"] = [stable if i.startswith(PREFIX) else i for i in container["ids"]]


def order_needs_as_read_in_full(app: Sphinx, needs) -> None:
    """``needs-before-post-processing``: the needs in the order of a full serial build (stable:
    the needs of one document keep the order they were created in)."""
    ordered = sorted(needs.items(), key=lambda item: item[1]["docname"] or "")
    if [i for i, _ in ordered] == list(needs):
        return
    needs.clear()
    needs.update(ordered)


def drop_report_timing(app: Sphinx, exception: Exception | None) -> None:
    path = Path(app.outdir) / REPORT
    if not path.is_file():
        return
    written = path.read_text(encoding="utf-8")
    report = json.loads(written)
    report.pop("validated_needs_per_second", None)
    report["validation_summary"] = TIMING.sub(".", report.get("validation_summary", ""))
    if (text := json.dumps(report, indent=2)) != written:  # a build that did not validate left it as it was
        path.write_text(text, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    # after sphinx-needs has rendered the needs (its handlers run at the default priority 500)
    app.connect("doctree-resolved", stable_container_ids, priority=FINISHING)
    app.connect("build-finished", drop_report_timing)
    # first, before any handler walks the needs (back links are built after this event)
    app.connect("needs-before-post-processing", order_needs_as_read_in_full, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
