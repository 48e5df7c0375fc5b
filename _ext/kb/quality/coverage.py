"""Coverage of requirements: the ``coverage`` field of every req, and the per-section summary.

What covers which phase is data, in ubproject.toml [kb.coverage] (phase -> need type), and
which link a need of each type covers with is declared by its count field; both reach this
module through the model accessor. The build itself fails on missing coverage through the
coverage-* schema rules; this module only reports: it writes the state into each req (so
tables, needs.json and exports show the same value) and renders ``.. kb-coverage-summary::``,
the same table as the exports' Coverage summary sheet."""

from __future__ import annotations

from docutils import nodes
from kb_export.tables import coverage_summary
from kb_export.trace import Trace
from kb_export.tree import SECTION, SOURCE_LINK
from kb_shared.tables import table
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx_needs.api import get_needs_view

from ..build import placeholders
from ..model import model_of


#: The fields of a requirement its coverage reads besides its links (kb.build.rebuild: an edit
#: of any other field leaves the coverage as it was).
FIELDS_READ = ("phase", "rationale")
#: The field this module sets on the requirements after reading (kb.build.rebuild asks).
COVERAGE = "coverage"
FIELDS_SET = (COVERAGE,)


def coverage_state(need, needs, phase_to_type: dict[str, str], trace: Trace) -> str:
    """covered: every phase has its covering type (a phase with no rule is covered by any
    covering item); justified: not covered but it carries a rationale; gap: neither."""
    required = {phase_to_type[p] for p in need["phase"] if p in phase_to_type}
    if required:
        covered = all(trace.covering_of(need, kind, needs) for kind in required)
    else:
        covered = any(trace.covering_of(need, kind, needs) for kind in trace.covering)
    if covered:
        return "covered"
    return "justified" if need["rationale"] else "gap"


def set_coverage(app: Sphinx, needs) -> None:
    model = model_of(app.confdir)
    for need in needs.values():
        if need["type"] == "req":
            need[COVERAGE] = coverage_state(need, needs, model.coverage_rule, model.trace)


class coverage_summary_node(nodes.General, nodes.Element):
    #: For the incremental rebuild (kb.build.rebuild): per requirement, its guideline, section
    #: and coverage, and its covering items (back links, derived as coverage is).
    kb_shows_selection = ("type == 'req'", ("type", SOURCE_LINK, SECTION, COVERAGE))


class CoverageSummaryDirective(SphinxDirective):
    """``.. kb-coverage-summary::`` a table: per source section, requirements by coverage
    state and the number of covering items. Filled in once all needs are known."""

    def run(self) -> list[nodes.Node]:
        return [coverage_summary_node()]


def fill_summaries(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    summaries = placeholders.on_page(app, doctree, coverage_summary_node)
    if not summaries:
        return
    needs = get_needs_view(app)
    header, rows = coverage_summary(needs, needs, model_of(app.confdir).trace)
    cells = [[str(value) for value in row] for row in rows]
    for node in summaries:
        node.replace_self(table(header, cells, ["kb-coverage-summary"]))


def setup(app: Sphinx) -> dict:
    app.connect("needs-before-sealing", set_coverage)
    app.add_node(coverage_summary_node)
    placeholders.register(coverage_summary_node)
    app.add_directive("kb-coverage-summary", CoverageSummaryDirective)
    app.connect("doctree-resolved", fill_summaries)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
