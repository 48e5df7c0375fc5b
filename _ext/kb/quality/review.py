"""Change awareness: links whose target changed since they were reviewed are *suspect*.

sphinx-needs derives a ``fingerprint`` (SHA-256 of title, content, fields, links) for every
need. ``requirements/reviewed-links.json`` records, for each covering link (the link types
the model accessor names), the target's fingerprint when a person last checked that
the link still holds. When a requirement's text changes, its fingerprint changes, and every
link to it is flagged in ``suspect_links`` (on the linking need) and ``suspect_from`` (on the
target) until the link is reviewed again with ``make review-links``."""

from __future__ import annotations

import json
from pathlib import Path

from sphinx.application import Sphinx

from ..model import Model, model_of

REVIEWED = Path("requirements") / "reviewed-links.json"


#: The fields this module sets on the needs after reading (kb.build.rebuild asks).
SUSPECT_LINKS, SUSPECT_FROM = "suspect_links", "suspect_from"
FIELDS_SET = (SUSPECT_LINKS, SUSPECT_FROM)


def load_reviewed(confdir: str | Path) -> dict[str, dict[str, str]]:
    path = Path(confdir) / REVIEWED
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def suspect_links(source: dict, needs, reviewed: dict[str, dict[str, str]],
                  covering_links: tuple[str, ...], fingerprint: str) -> list[str]:
    """Targets of ``source``'s covering links whose fingerprint is not the reviewed one (a
    link never reviewed is suspect whatever its target's fingerprint)."""
    seen = reviewed.get(source["id"], {})
    return [
        target
        for link in covering_links
        for target in source[link]
        if target in needs and seen.get(target) != needs[target][fingerprint]
    ]


def flag_suspect_links(app: Sphinx, needs) -> None:
    reviewed = load_reviewed(app.confdir)
    model = model_of(app.confdir)
    suspect_from: dict[str, list[str]] = {}
    for need in needs.values():
        targets = suspect_links(need, needs, reviewed, model.covering_link_names, model.fingerprint_field)
        need[SUSPECT_LINKS] = targets or None
        for target in targets:
            suspect_from.setdefault(target, []).append(need["id"])
    for need_id, sources in suspect_from.items():
        needs[need_id][SUSPECT_FROM] = sorted(sources)


def setup(app: Sphinx) -> dict:
    app.connect("needs-before-sealing", flag_suspect_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def record_review(needs: dict[str, dict], model: Model) -> dict[str, dict[str, str]]:
    """What reviewed-links.json records after a review of ``needs`` (as needs.json holds
    them): for each need, the fingerprint of each target of its covering links."""
    covering_links, fingerprint = model.covering_link_names, model.fingerprint_field
    reviewed = {}
    for need_id in sorted(needs):
        need = needs[need_id]
        targets = {t: needs[t][fingerprint] for link in covering_links for t in need.get(link, []) if t in needs}
        if targets:
            reviewed[need_id] = dict(sorted(targets.items()))
    return reviewed
