"""The device's gap analysis against the IMDRF knowledge base.

Each imported requirement that passes the scope filter (ubproject.toml
``[device.gap_analysis] scope``) gets one of three states, computed from this project's own
needs only:

- covered: for every phase of the requirement, this device has a need of the type the
  knowledge base's coverage rule names for that phase (its ``[kb.coverage]``, published in
  the interchange, with the covering link of each type: a design control ``implements``, a
  test ``verifies``, a post-market activity ``maintains``). A requirement whose phases name
  no type (submission, manufacturing) is covered by any covering item;
- not applicable: an ``applicability`` decision of this project declares it so
  (``scopes_out``), with a rationale;
- not covered: neither; ``missing`` says which covering items it still lacks.

The state is written into the requirement's own ``coverage`` field, in the knowledge base's
vocabulary (covered / justified / gap), with the decision's rationale in ``rationale``; the
other fields the interchange marks as project-relative (covering counts, link review state)
are recomputed or cleared. So in this build a requirement's fields describe this device, not
the knowledge base, and the tables, needs.json and the audit export all show the same
analysis. ``.. device-gap-summary::`` renders the counts per section.

A decision on a requirement the device also covers, or on one outside the scope, is a
contradiction: it is reported at the decision, and fails the strict build.

The analysis extends to the device's security file, whose chain is threat -> security risk ->
control -> test, and vulnerability -> security risk: a threat without a security risk that
assesses it, a risk above acceptance (medium or high before controls) without a control that
mitigates it, a control without a test, an affected vulnerability without a risk that rates it,
a vulnerability under investigation for longer than ``[device.sbom] investigation_days``, and a
component without support data each get ``missing``, saying what they lack. The gap-analysis
page lists them (``missing`` is in needs.json and in the export's sheet of each type)."""

from __future__ import annotations

import tomllib
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

from docutils import nodes
from kb_export.ordering import natural_key
from kb_shared.tables import table
from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx_needs.config import NeedsSphinxConfig
from sphinx_needs.data import SphinxNeedsData
from sphinx_needs.filter_common import filter_single_need

from device_sbom import as_of, settings as sbom_settings
from imdrf_interchange import load_interchange

logger = logging.getLogger(__name__)
DECISION_TYPE, DECISION_LINK = "applicability", "scopes_out"  # declared in ubproject.toml
STATES = {"covered": "Covered", "gap": "Not covered", "justified": "Not applicable"}


def gap_settings(app: Sphinx) -> dict:
    path = Path(app.confdir) / (app.config.needs_from_toml or "ubproject.toml")
    with open(path, "rb") as f:
        settings = tomllib.load(f).get("device", {}).get("gap_analysis", {})
    if not str(settings.get("scope", "")).strip():
        raise ConfigError(f"{path}: [device.gap_analysis] scope is missing: a sphinx-needs filter "
                          "that selects the requirements this device is analysed against")
    return settings


def own(needs, need_id: str, need_type: str | None = None) -> bool:
    need = needs.get(need_id)
    return need is not None and not need["is_external"] and need_type in (None, need["type"])


def state_of(req, needs, phase_to_type: dict[str, str], covering: dict[str, str]) -> tuple[str, list[str]]:
    """(state, what is missing) of one requirement, from this project's needs."""
    have = {kind for kind, link in covering.items()
            if any(own(needs, i, kind) for i in req[f"{link}_back"])}
    if any(own(needs, i, DECISION_TYPE) for i in req[f"{DECISION_LINK}_back"]):
        return "justified", []
    required = {phase_to_type[p] for p in req["phase"] if p in phase_to_type}
    if required:
        missing = [kind for kind in covering if kind in required - have]  # in the model's order
        return ("gap", missing) if missing else ("covered", [])
    return ("covered", []) if have else ("gap", ["any covering item"])


def analyse(app: Sphinx, needs) -> None:
    """needs-before-sealing: every imported requirement described for this device."""
    model = load_interchange(app)
    config = NeedsSphinxConfig(app.config)
    scope = gap_settings(app)["scope"]
    phase_to_type, covering = model["kb"]["coverage"], model["interchange"]["covering_links"]
    fields = model["needs"]["fields"]
    titles = {name: decl["title"].lower() for name, decl in model["needs"]["types"].items()}
    for req in (n for n in needs.values() if n["is_external"] and n["type"] == "req"):
        for name in model["interchange"]["project_relative"]:
            if not fields[name].get("derive"):  # derived ones cannot be set: see leave_out_kept_values
                req[name] = fields[name].get("default")
        req["missing"] = None
        if not filter_single_need(req, config, scope):
            continue
        state, missing = state_of(req, needs, phase_to_type, covering)
        req["coverage"] = state
        req["missing"] = [titles.get(m, m) for m in missing] or None
        if state == "justified":
            decisions = [i for i in req[f"{DECISION_LINK}_back"] if own(needs, i, DECISION_TYPE)]
            req["rationale"] = "\n".join(f"{d}: {needs[d]['rationale']}" for d in decisions)
    check_decisions(needs, config, scope, covering)
    chain_gaps(app, needs)


# The security file's chain, as the knowledge base's model declares it: (type, link, the type at
# its other end). A need of the type on the left is complete when a need of the type on the
# right links to it with the link.
# A control's test links with the knowledge base's covering link of tests (the interchange's
# covering_links), added at run time.
CHAIN = {"threat": ("assesses", "risk", "a security risk that assesses it"),
         "risk": ("mitigates", "design", "a control that mitigates it"),
         "vulnerability": ("rates", "risk", "a security risk that rates it")}
ABOVE_ACCEPTANCE = ("medium", "high")  # risk_before levels that call for a control


def chain_gaps(app: Sphinx, needs) -> None:
    """What each need of the device's security file lacks in the chain (its ``missing``)."""
    limit = int(sbom_settings(app).get("investigation_days", 30))
    today = as_of(str(app.confdir))
    chain = {**CHAIN, "design": (load_interchange(app)["interchange"]["covering_links"]["test"], "test",
                                 "a test that verifies it")}
    for need in needs.values():
        if need["is_external"] or need["type"] not in (*chain, "component"):
            continue
        lacks = []
        if need["type"] in chain:
            link, source_type, text = chain[need["type"]]
            needed = (need["type"] != "risk" or need.get("risk_before") in ABOVE_ACCEPTANCE) and \
                     (need["type"] != "vulnerability" or need.get("vex_status") == "affected")
            if needed and not any(own(needs, i, source_type) for i in need.get(f"{link}_back") or []):
                lacks.append(text)
        if need["type"] == "vulnerability" and need.get("vex_status") == "under_investigation" and need.get("vex_date"):
            age = (today - date.fromisoformat(need["vex_date"])).days
            if age > limit:
                lacks.append(f"an assessment: under investigation for {age} days (limit {limit})")
        if need["type"] == "component" and not (need.get("support_level") and need.get("eos_date")):
            lacks.append("support data (support level and end-of-support date)")
        need["missing"] = lacks or None



def check_decisions(needs, config, scope: str, covering: dict[str, str]) -> None:
    for decision in (n for n in needs.values() if own(needs, n["id"], DECISION_TYPE)):
        for req_id in decision[DECISION_LINK]:
            req = needs.get(req_id)
            if req is None:
                continue  # a dead link: sphinx-needs reports it
            location = (decision["docname"], decision["lineno"])
            items = [i for link in covering.values() for i in req[f"{link}_back"] if own(needs, i)]
            if items:
                logger.warning(f"{decision['id']} declares {req_id} not applicable, but this device covers it "
                               f"with {', '.join(items)}: withdraw the decision or those links",
                               location=location, type="device_gaps", subtype="contradiction")
            if not filter_single_need(req, config, scope):
                logger.warning(f"{decision['id']} declares {req_id} not applicable, but {req_id} is outside "
                               f"the gap analysis (scope: {scope}), so the decision has no effect: "
                               f"remove it or widen [device.gap_analysis] scope",
                               location=location, type="device_gaps", subtype="out_of_scope")


def leave_out_kept_values(app: Sphinx, config) -> None:
    """sphinx-needs keeps an external need's derived values as the source computed them
    and lets no one set them, so the knowledge base's covering counts stay on the imported
    requirements. They describe the knowledge base's examples, not this device: this
    build's needs.json (and so the audit export) leaves them out."""
    model = load_interchange(app)
    kept = [name for name in model["interchange"]["project_relative"]
            if model["needs"]["fields"][name].get("derive")]
    config["needs_json_exclude_fields"] = [*config.needs_json_exclude_fields, *kept]


class gap_summary(nodes.General, nodes.Element):
    pass


class GapSummaryDirective(SphinxDirective):
    """``.. device-gap-summary::`` the scope, then a table of the requirements per source
    section and state; filled in once every need is known."""

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(Path(self.env.app.confdir) / "ubproject.toml"))
        return [gap_summary()]


def fill_summary(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    placeholders = list(doctree.findall(gap_summary))
    if not placeholders:
        return
    needs = SphinxNeedsData(app.env).get_needs_view()
    reqs = [n for n in needs.values() if n["is_external"] and n["type"] == "req"]
    analysed = [n for n in reqs if n["coverage"]]
    by_section: dict[str, Counter] = defaultdict(Counter)
    for req in analysed:
        by_section[req["section"]][req["coverage"]] += 1
    rows, total = [], Counter()
    for section in sorted(by_section, key=natural_key):
        counts = by_section[section]
        total.update(counts)
        rows.append([section, str(sum(counts.values())), *(str(counts[s]) for s in STATES)])
    rows.append(["All", str(len(analysed)), *(str(total[s]) for s in STATES)])
    scope = gap_settings(app)["scope"]
    intro = nodes.paragraph()
    intro += nodes.Text(f"{len(analysed)} of the {len(reqs)} requirements of the knowledge base "
                        f"are in the scope of this analysis, selected by ")
    intro += nodes.literal(text=scope)
    intro += nodes.Text(f": {total['covered']} covered, {total['gap']} not covered, "
                        f"{total['justified']} not applicable.")
    for node in placeholders:
        node.replace_self([intro.deepcopy(), table(["Section", "In scope", *STATES.values()], rows,
                                                   ["device-gap-summary"])])


def setup(app: Sphinx) -> dict:
    app.setup_extension("imdrf_interchange")
    app.connect("config-inited", leave_out_kept_values, priority=20)
    app.connect("needs-before-sealing", analyse)
    app.add_node(gap_summary)
    app.add_directive("device-gap-summary", GapSummaryDirective)
    app.connect("doctree-resolved", fill_summary)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
