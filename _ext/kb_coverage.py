"""Coverage of requirements: the ``coverage`` field of every req, and the per-section summary.

What covers which phase is data, in ubproject.toml [kb.coverage] (phase -> need type); the
build itself fails on missing coverage through the coverage-* schema rules beside it. This
module only reports: it writes the state into each req (so tables, needs.json and exports show
the same value) and renders ``.. kb-coverage-summary::``."""

from __future__ import annotations

from collections import Counter, defaultdict

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx_needs.data import SphinxNeedsData

from kb_export_needs import natural_key
from kb_model import load_model

COVERING_LINK = {"design": "implements_back", "test": "verifies_back", "postmarket": "maintains_back"}
STATES = ("covered", "justified", "gap")


def covering(need, kind: str, needs) -> list[str]:
    """IDs of the needs of type ``kind`` that cover ``need``."""
    return [i for i in need[COVERING_LINK[kind]] if i in needs and needs[i]["type"] == kind]


def coverage_state(need, needs, phase_to_type: dict[str, str]) -> str:
    """covered: every phase has its covering type (a phase with no rule is covered by any
    covering item); justified: not covered but it carries a rationale; gap: neither."""
    required = {phase_to_type[p] for p in need["phase"] if p in phase_to_type}
    if required:
        covered = all(covering(need, kind, needs) for kind in required)
    else:
        covered = any(covering(need, kind, needs) for kind in COVERING_LINK)
    if covered:
        return "covered"
    return "justified" if need["rationale"] else "gap"


def set_coverage(app: Sphinx, needs) -> None:
    phase_to_type = load_model(app.confdir)["kb"]["coverage"]
    for need in needs.values():
        if need["type"] == "req":
            need["coverage"] = coverage_state(need, needs, phase_to_type)


class coverage_summary(nodes.General, nodes.Element):
    pass


class CoverageSummaryDirective(SphinxDirective):
    """``.. kb-coverage-summary::`` a table: per source section, requirements by coverage
    state and the number of covering items. Filled in once all needs are known."""

    def run(self) -> list[nodes.Node]:
        return [coverage_summary()]


def _table(header: list[str], rows: list[list[str]]) -> nodes.table:
    table = nodes.table(classes=["kb-coverage-summary"])
    group = nodes.tgroup(cols=len(header))
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in header)
    thead, tbody = nodes.thead(), nodes.tbody()
    for target, cells in ((thead, [header]), (tbody, rows)):
        for cells_row in cells:
            row = nodes.row()
            for cell in cells_row:
                row += nodes.entry("", nodes.paragraph(text=cell))
            target += row
    group += thead
    group += tbody
    return table


def fill_summaries(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    summaries = list(doctree.findall(coverage_summary))
    if not summaries:
        return
    needs = SphinxNeedsData(app.env).get_needs_view()
    by_section: dict[str, Counter] = defaultdict(Counter)
    for need in needs.values():
        if need["type"] != "req":
            continue
        c = by_section[need["section"]]
        c["reqs"] += 1
        c[need["coverage"]] += 1
        for kind in COVERING_LINK:
            c[kind] += bool(covering(need, kind, needs))
    header = ["Section", "Requirements", "Covered", "Justified", "Gap",
              "With design control", "With test", "With post-market activity"]
    rows = []
    total = Counter()
    for section in sorted(by_section, key=natural_key):
        c = by_section[section]
        total.update(c)
        rows.append([section, *(str(c[k]) for k in ("reqs", *STATES, *COVERING_LINK))])
    rows.append(["All", *(str(total[k]) for k in ("reqs", *STATES, *COVERING_LINK))])
    for node in summaries:
        node.replace_self(_table(header, rows))


def setup(app: Sphinx) -> dict:
    app.connect("needs-before-sealing", set_coverage)
    app.add_node(coverage_summary)
    app.add_directive("kb-coverage-summary", CoverageSummaryDirective)
    app.connect("doctree-resolved", fill_summaries)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
