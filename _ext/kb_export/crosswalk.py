"""The crosswalk in the exports: which link types are mappings to the clauses of other
frameworks, the evidence marker of each, and the Crosswalk sheet (one row per mapping).

Read from needs.json alone, so that the exporter works on any project's file:

* a link type is a mapping when every link of it that resolves points to a need of type
  ``clause``, and it has such a link or an evidence table names it (the N60 model:
  ``maps_primary`` ... ``maps_fit_judgement``; ``part_of`` points to standards, so it is not
  one). Dead links and links to need parts are left out of the decision, and the whole file
  decides, not a filter's selection, so a filter never changes which link types are mappings;
* a clause's framework is the need its ``part_of`` link names (the N60 model's name);
* the evidence marker of a mapping link type ([P], [S], ...) is not data in needs.json. It
  comes from a table link type -> marker: the one the caller gives (the site passes
  ``[kb.evidence]`` of ubproject.toml; the command line takes ``--evidence LINK=MARKER``),
  over ``EVIDENCE`` below, the N60 model's markers, which tests/test_export.py keeps equal to
  ``[kb.evidence]`` (so ``make export`` needs no table). A mapping link type no table names
  has its own name as its marker: no mapping is ever exported without its evidence level.

A file without clauses or without links to them has no mapping link types: its Crosswalk
sheet is the header row alone."""

from __future__ import annotations

from .needs import NeedsFile
from .ordering import natural_key

CLAUSE_TYPE = "clause"     # the need type mappings point to
FRAMEWORK_LINK = "part_of"  # a clause -> the framework (a standard need) it is part of
# The N60 model's evidence levels in the crosswalk's order: [kb.evidence] of ubproject.toml.
EVIDENCE = {
    "maps_primary": "[P]",
    "maps_primary_outline": "[P-OoI]",
    "maps_secondary": "[S]",
    "maps_fda_cited": "[S-FDA]",
    "maps_fit_judgement": "(unverified fit)",
}
COLUMNS = ["Requirement", "Requirement title", "Section", "Framework", "Framework document",
           "Clause", "Clause ref", "Clause title", "Evidence", "Link type"]


def mapping_markers(source: NeedsFile, evidence: dict[str, str] | None = None) -> dict[str, str]:
    """Mapping link type -> its evidence marker, in the table's order, then by name."""
    table = {**EVIDENCE, **(evidence or {})}
    found = []
    for link in source.link_types:
        targets = [source.needs[t]["type"] for n in source.needs.values() for t in n.get(link) or []
                   if t in source.needs]
        if all(t == CLAUSE_TYPE for t in targets) and (targets or link in table):
            found.append(link)
    order = list(table)
    found.sort(key=lambda l: (order.index(l) if l in order else len(order), l))
    return {link: str(table.get(link) or link) for link in found}


def framework_of(clause: dict) -> str | None:
    targets = clause.get(FRAMEWORK_LINK) or []
    return targets[0] if targets else None


def rows(source: NeedsFile, selected: dict[str, dict], markers: dict[str, str]) -> list[dict]:
    """Every mapping whose source need is selected, as a dict of COLUMNS (plus "url" of the
    source), sorted by source (section, ID), framework, clause and evidence level. The clause
    and its framework are named from the whole file, also when a filter left them out."""
    needs, order = source.needs, list(markers)
    out = []
    for need in selected.values():
        for link in markers:
            for target in need.get(link) or []:
                clause = needs.get(target)
                if clause is None or clause["type"] != CLAUSE_TYPE:
                    continue
                framework = framework_of(clause)
                document = needs.get(framework, {}).get("doc_id") if framework else None
                out.append({
                    "Requirement": need["id"], "Requirement title": need.get("title"),
                    "Section": need.get("section"), "Framework": framework,
                    "Framework document": document, "Clause": clause["id"],
                    "Clause ref": clause.get("clause_ref"), "Clause title": clause.get("clause_title"),
                    "Evidence": markers[link], "Link type": link, "_order": order.index(link),
                })
    out.sort(key=lambda r: (natural_key(str(r["Section"] or "")), natural_key(r["Requirement"]),
                            natural_key(r["Framework"] or ""), natural_key(str(r["Clause ref"] or "")),
                            natural_key(r["Clause"]), r["_order"]))
    for row in out:
        del row["_order"]
    return out
