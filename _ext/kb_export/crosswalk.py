"""The crosswalk in the exports: which link types are topic links to the clauses of other
frameworks, the evidence marker of each, the fits that judge them, and the sheets: Crosswalk
(one row per topic link, with its fit and reason), Framework coverage and Framework gaps.

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

* a fit is a need of type ``fit`` (``FITS``, which tests/test_export.py keeps equal to
  ``[kb.crosswalk.fits]``) naming one requirement and one clause; its level says whether the
  clause answers the requirement (full, partial: "maps to") or is context (related: "see
  also", like a topic link nobody judged a fit).

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
# The N60 model's fits: [kb.crosswalk.fits] of ubproject.toml, with the names of the fit's fields.
FITS = {"type": "fit", "requirement": "fit_of", "clause": "fit_to", "maps_to": ["full", "partial"],
        "level": "fit", "reason": "reason", "evidence": "evidence"}
MAPS_TO, SEE_ALSO = "maps to", "see also"
TOPIC_ONLY = "topic only"  # the Fit column of a topic link nobody judged a fit
COLUMNS = ["Requirement", "Requirement title", "Section", "Framework", "Framework document",
           "Clause", "Clause ref", "Clause title", "Relation", "Fit", "Reason", "Fit ID",
           "Evidence", "Link type"]
COVERAGE_COLUMNS = ["Framework", "Framework document", "Requirement", "Requirement title", "Section",
                    "Full fits", "Partial fits"]
GAP_COLUMNS = ["Framework", "Framework document", "Clause", "Clause ref", "Clause title",
               "Related requirements", "Topic links"]


def mapping_markers(source: NeedsFile, evidence: dict[str, str] | None = None) -> dict[str, str]:
    """Mapping link type -> its evidence marker, in the table's order, then by name."""
    table = {**EVIDENCE, **(evidence or {})}
    found = []
    for link in source.link_types:
        if link == FITS["clause"]:  # a fit's link to its clause judges a topic link; it is not one
            continue
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


def fits_of(needs: dict[str, dict], names: dict = FITS) -> dict[tuple[str, str], dict]:
    """(requirement ID, clause ID) -> the fit judging that pair, from all the needs; ``names``:
    the fit type and its links (the site passes its model's [kb.crosswalk.fits])."""
    out = {}
    for need in needs.values():
        if need["type"] == names["type"]:
            for req in need.get(names["requirement"]) or []:
                for clause in need.get(names["clause"]) or []:
                    out[(req, clause)] = need
    return out


def relation(fit: dict | None) -> str:
    return MAPS_TO if fit is not None and fit.get(FITS["level"]) in FITS["maps_to"] else SEE_ALSO


def rows(source: NeedsFile, selected: dict[str, dict], markers: dict[str, str]) -> list[dict]:
    """Every topic link whose source need is selected, with the fit that judges it (if any),
    as a dict of COLUMNS, sorted by source (section, ID), framework, clause and evidence
    level. The clause, its framework and the fit come from the whole file, also when a
    filter left them out."""
    needs, order = source.needs, list(markers)
    fits = fits_of(source.needs)
    out = []
    for need in selected.values():
        for link in markers:
            for target in need.get(link) or []:
                clause = needs.get(target)
                if clause is None or clause["type"] != CLAUSE_TYPE:
                    continue
                framework = framework_of(clause)
                document = needs.get(framework, {}).get("doc_id") if framework else None
                fit = fits.get((need["id"], clause["id"]))
                out.append({
                    "Requirement": need["id"], "Requirement title": need.get("title"),
                    "Section": need.get("section"), "Framework": framework,
                    "Framework document": document, "Clause": clause["id"],
                    "Clause ref": clause.get("clause_ref"), "Clause title": clause.get("clause_title"),
                    "Relation": relation(fit),
                    "Fit": fit.get(FITS["level"]) if fit else TOPIC_ONLY,
                    "Reason": fit.get(FITS["reason"]) if fit else None,
                    "Fit ID": fit["id"] if fit else None,
                    "Evidence": markers[link], "Link type": link, "_order": order.index(link),
                })
    out.sort(key=lambda r: (natural_key(str(r["Section"] or "")), natural_key(r["Requirement"]),
                            natural_key(r["Framework"] or ""), natural_key(str(r["Clause ref"] or "")),
                            natural_key(r["Clause"]), r["_order"]))
    for row in out:
        del row["_order"]
    return out


def coverage_rows(source: NeedsFile, selected: dict[str, dict]) -> list[dict]:
    """Per framework, each selected requirement with a full or partial fit there, and its
    clauses by level; sorted by framework, section and requirement."""
    needs = source.needs
    per: dict[tuple[str, str], dict[str, list[str]]] = {}
    for (req_id, clause_id), fit in fits_of(source.needs).items():
        if req_id not in selected or clause_id not in needs or relation(fit) != MAPS_TO:
            continue
        framework = framework_of(needs[clause_id]) or ""
        levels = per.setdefault((framework, req_id), {level: [] for level in FITS["maps_to"]})
        levels[fit[FITS["level"]]].append(clause_id)
    out = []
    for (framework, req_id), levels in per.items():
        req = needs[req_id]
        out.append({
            "Framework": framework or None, "Framework document": needs.get(framework, {}).get("doc_id"),
            "Requirement": req_id, "Requirement title": req.get("title"), "Section": req.get("section"),
            "Full fits": _refs(needs, levels.get("full", [])),
            "Partial fits": _refs(needs, levels.get("partial", [])),
        })
    out.sort(key=lambda r: (natural_key(r["Framework"] or ""), natural_key(str(r["Section"] or "")),
                            natural_key(r["Requirement"])))
    return out


def gap_rows(source: NeedsFile, markers: dict[str, str]) -> list[dict]:
    """Every clause of the file that no full or partial fit reaches: a framework's clauses the
    requirements leave open, with the requirements that are only related to it (see also) and
    its number of topic links; sorted by framework and clause."""
    needs = source.needs
    fits = fits_of(source.needs)
    reached = {c for (_, c), fit in fits.items() if relation(fit) == MAPS_TO}
    topic: dict[str, set[str]] = {}
    for need in needs.values():
        for link in markers:
            for target in need.get(link) or []:
                topic.setdefault(target, set()).add(need["id"])
    out = []
    for clause in needs.values():
        if clause["type"] != CLAUSE_TYPE or clause["id"] in reached:
            continue
        framework = framework_of(clause) or ""
        related = sorted((r for (r, c), fit in fits.items() if c == clause["id"]), key=natural_key)
        out.append({
            "Framework": framework or None, "Framework document": needs.get(framework, {}).get("doc_id"),
            "Clause": clause["id"], "Clause ref": clause.get("clause_ref"), "Clause title": clause.get("clause_title"),
            "Related requirements": related, "Topic links": len(topic.get(clause["id"], ())),
        })
    out.sort(key=lambda r: (natural_key(r["Framework"] or ""), natural_key(str(r["Clause ref"] or "")),
                            natural_key(r["Clause"])))
    return out


def _refs(needs: dict, clause_ids: list[str]) -> list[str]:
    """Clause IDs in the order of their references."""
    return sorted(clause_ids, key=lambda c: (natural_key(str(needs[c].get("clause_ref") or "")), natural_key(c)))
