"""The life-cycle page (``.. kb-life-cycle::``): the four stages of the cybersecurity life cycle
(N70 section 5) with the manufacturer's and the healthcare provider's duties side by side, and
how responsibility moves between them, the idea of N70's Figure 2.

Everything on it is generated from the needs: a requirement belongs to the stages of its
``lifecycle_stage`` field, to a column by its ``stakeholder`` and to a row by its ``duty``
(communication, risk management, transfer of responsibility; none: the stage's definition,
triggers and controls). The share of duties per stage counts, for each stage, the requirements
that fall on each party; a requirement of every stage is listed once, above the stages."""

from __future__ import annotations

from docutils import nodes
from kb_export.ordering import natural_key
from kb_shared.tables import table
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx_needs.api import get_needs_view

from ..build import placeholders
from ..model import model_of

#: The two parties whose duties the page sets side by side, with their column headings.
PARTIES = {"manufacturer": "Manufacturer", "healthcare-provider": "Healthcare provider"}
STAGE_TITLES = {"development": "Development", "support": "Support", "limited-support": "Limited Support",
                "end-of-support": "End of Support"}
DUTY_TITLES = {"communication": "Communication", "risk-management": "Risk management",
               "transfer-of-responsibility": "Transfer of responsibility"}
NO_DUTY = "The stage, its triggers and controls"


class life_cycle_node(nodes.General, nodes.Element):
    # for the incremental rebuild (kb.build.rebuild): what render() reads
    kb_shows_selection = ("type == 'req' and lifecycle_stage",
                          ("id", "title", "docname", "lifecycle_stage", "stakeholder", "duty"))


class LifeCycleDirective(SphinxDirective):
    """``.. kb-life-cycle::`` the stages, duties and shares; filled in once needs are known."""

    def run(self) -> list[nodes.Node]:
        return [life_cycle_node()]


def _need_list(app: Sphinx, docname: str, needs: list) -> nodes.Node:
    box = nodes.container(classes=["kb-life-cycle-needs"])
    for need in sorted(needs, key=lambda n: natural_key(n["id"])):  # by document, then section
        para = nodes.paragraph()
        uri = app.builder.get_relative_uri(docname, need["docname"]) + "#" + need["id"]
        para += nodes.reference("", need["id"], refuri=uri, internal=True)
        para += nodes.Text(f" {need['title']}")
        box += para
    if not needs:
        box += nodes.paragraph(text="—")
    return box


def _share_bar(counts: dict[str, int]) -> list[nodes.Node]:
    total = sum(counts.values()) or 1
    widths = {party: round(100 * count / total) for party, count in counts.items()}
    # numbers only go into the markup; the text says the same for readers without styles
    bar = "".join(f'<span class="kb-share-{party}" style="width: {widths[party]}%"></span>' for party in PARTIES)
    text = ", ".join(f"{PARTIES[p].lower()} {widths[p]} %" for p in PARTIES)
    return [nodes.raw("", f'<div class="kb-share" aria-hidden="true">{bar}</div>', format="html"),
            nodes.paragraph(text=text)]


def render(app: Sphinx, docname: str) -> list[nodes.Node]:
    model = model_of(app.confdir)
    stages = model.enum("lifecycle_stage")
    needs = [n for n in get_needs_view(app).values() if n["type"] == "req" and n.get("lifecycle_stage")]
    every = [n for n in needs if set(n["lifecycle_stage"]) == set(stages)]
    everywhere = {n["id"] for n in every}
    by_stage = {stage: [n for n in needs if stage in n["lifecycle_stage"] and n["id"] not in everywhere]
                for stage in stages}
    out: list[nodes.Node] = []

    out.append(nodes.rubric(text="How responsibility moves between the parties"))
    rows = []
    for stage, in_stage in by_stage.items():
        counts = {p: sum(1 for n in in_stage if p in (n.get("stakeholder") or [])) for p in PARTIES}
        cell = nodes.container()
        cell += _share_bar(counts)
        rows.append([STAGE_TITLES.get(stage, stage), *(str(counts[p]) for p in PARTIES), cell])
    out.append(table(["Stage", *(f"{t} duties" for t in PARTIES.values()), "Share"], rows,
                     ["kb-life-cycle-shares"], [20, 15, 15, 50]))

    out.append(nodes.rubric(text="In every stage"))
    out.append(_need_list(app, docname, every))

    for stage, in_stage in by_stage.items():
        out.append(nodes.rubric(text=STAGE_TITLES.get(stage, stage), ids=[f"stage-{stage}"]))
        rows = []
        for duty in [None, *model.enum("duty")]:
            of_duty = [n for n in in_stage if n.get("duty") == duty]
            if duty is None and not of_duty:
                continue
            rows.append([DUTY_TITLES.get(duty, NO_DUTY),
                         *(_need_list(app, docname, [n for n in of_duty if p in (n.get("stakeholder") or [])])
                           for p in PARTIES)])
        out.append(table(["", *PARTIES.values()], rows, ["kb-life-cycle-stage"], [20, 40, 40]))
    return out


def fill(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in placeholders.on_page(app, doctree, life_cycle_node):
        node.replace_self(render(app, docname))


def setup(app: Sphinx) -> dict:
    app.add_node(life_cycle_node)
    placeholders.register(life_cycle_node)
    app.add_directive("kb-life-cycle", LifeCycleDirective)
    app.connect("doctree-resolved", fill)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
