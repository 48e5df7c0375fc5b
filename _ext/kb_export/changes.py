"""What changed between two versions of a needs.json: the change report an auditor reads
before approving a new release of the knowledge base or a new revision of a device file.

``compare(old, new)`` gives the rows; ``write(report, outdir)`` writes them as
``changes.html`` (text changes as word-level differences), ``changes.xlsx`` (old and new text
side by side) and ``changes.json`` (for machines), all three from the same rows, atomically.

What is compared is what the author wrote and what the reader relies on:

* needs added and removed (by ID);
* fields changed, old -> new: the title, the statement and every field of the file, except
  sphinx-needs' bookkeeping (where a need sits, derived counts and fingerprints) and what is
  reported on its own below;
* links added and removed, per link type, of the needs both versions have (the links of an
  added or removed need are listed with it); backlinks are not compared, as they mirror the
  links of other needs;
* coverage states changed, and suspect links raised (links whose target changed since their
  review, which the new version flags and the old did not).

Read from the two files alone, like the rest of the exporter."""

from __future__ import annotations

import difflib
import html
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import xlsx
from .needs import ExportError, NeedsFile
from .ordering import natural_key
from .tables import Sheet, cell

# Not compared: where a need sits and what sphinx-needs derives from the rest.
NOT_COMPARED = frozenset({
    "docname", "lineno", "lineno_content", "sections", "section_name", "doctype", "type_name",
    "external_css", "is_modified", "modifications", "constraints_passed", "constraints_results",
    "constraints_error", "has_dead_links", "has_forbidden_dead_links", "fingerprint",
    "layout", "style", "arch", "parts", "signature", "content_id", "id_complete", "id_parent",
    "is_need", "is_part", "parent_need", "target_id", "suspect_from",
})
COVERAGE, SUSPECT = "coverage", "suspect_links"  # reported in their own tables
TEXT_FIELDS = ("title", "content")  # shown as word-level differences


@dataclass
class Side:
    label: str          # the git ref or "working tree"
    commit: str         # the commit, or "" for a working tree
    sha256: str         # of the needs.json compared


@dataclass
class Report:
    old: Side
    new: Side
    added: list[dict] = field(default_factory=list)      # {id, type, title, links}
    removed: list[dict] = field(default_factory=list)    # {id, type, title, links}
    changed: list[dict] = field(default_factory=list)    # {id, type, field, old, new}
    links: list[dict] = field(default_factory=list)      # {id, link, target, change}
    coverage: list[dict] = field(default_factory=list)   # {id, old, new}
    suspect: list[dict] = field(default_factory=list)    # {id, target}

    @property
    def summary(self) -> dict[str, int]:
        return {"needs added": len(self.added), "needs removed": len(self.removed),
                "needs changed": len({r["id"] for r in self.changed}),
                "fields changed": len(self.changed),
                "links added": sum(r["change"] == "added" for r in self.links),
                "links removed": sum(r["change"] == "removed" for r in self.links),
                "coverage changes": len(self.coverage), "suspect links raised": len(self.suspect)}

    def as_json(self) -> dict:
        return {"from": vars(self.old), "to": vars(self.new), "summary": self.summary,
                "added": self.added, "removed": self.removed, "changed": self.changed,
                "links": self.links, "coverage": self.coverage, "suspect": self.suspect}


def _links_of(need: dict, link_types: list[str]) -> dict[str, list[str]]:
    return {link: list(need.get(link) or []) for link in link_types if need.get(link)}


def _value(value):
    """A field's value as the report shows it: lists as lists, nothing as None."""
    if value in ("", [], {}):
        return None
    return value


def compare(old: NeedsFile, new: NeedsFile, old_side: Side, new_side: Side) -> Report:
    report = Report(old_side, new_side)
    link_types = sorted(set(old.link_types) | set(new.link_types))
    backlinks = {f"{link}_back" for link in link_types}
    order = lambda ids: sorted(ids, key=natural_key)  # noqa: E731
    for need_id in order(set(new.needs) - set(old.needs)):
        need = new.needs[need_id]
        report.added.append({"id": need_id, "type": need["type"], "title": need["title"],
                             "links": _links_of(need, link_types)})
    for need_id in order(set(old.needs) - set(new.needs)):
        need = old.needs[need_id]
        report.removed.append({"id": need_id, "type": need["type"], "title": need["title"],
                               "links": _links_of(need, link_types)})
    for need_id in order(set(old.needs) & set(new.needs)):
        before, after = old.needs[need_id], new.needs[need_id]
        names = (set(before) | set(after)) - NOT_COMPARED - set(link_types) - backlinks - {"id", COVERAGE, SUSPECT}
        names = [n for n in TEXT_FIELDS if n in names] + sorted(names - set(TEXT_FIELDS))
        for name in names:
            a, b = _value(before.get(name)), _value(after.get(name))
            if a != b and not name.endswith("_count"):
                report.changed.append({"id": need_id, "type": after["type"], "field": name, "old": a, "new": b})
        for link in link_types:
            a, b = before.get(link) or [], after.get(link) or []
            report.links += [{"id": need_id, "link": link, "target": t, "change": "removed"} for t in a if t not in b]
            report.links += [{"id": need_id, "link": link, "target": t, "change": "added"} for t in b if t not in a]
        if _value(before.get(COVERAGE)) != _value(after.get(COVERAGE)):
            report.coverage.append({"id": need_id, "old": _value(before.get(COVERAGE)),
                                    "new": _value(after.get(COVERAGE))})
    for need_id in order(new.needs):
        raised = set(new.needs[need_id].get(SUSPECT) or []) - set((old.needs.get(need_id) or {}).get(SUSPECT) or [])
        report.suspect += [{"id": need_id, "target": t} for t in order(raised)]
    return report


# ---------------------------------------------------------------------- the three forms


def as_text(value) -> str:
    """A field's value as text: lists joined with commas, objects as JSON, nothing as ""."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (dict, bool)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def word_ops(old: str, new: str) -> list[tuple[str, str]]:
    """The new text as pieces ("same" | "removed" | "added", text), word by word: removed
    words stand before the words that replace them."""
    a, b = re.findall(r"\S+|\s+", old), re.findall(r"\S+|\s+", new)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("removed", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("added", "".join(b[j1:j2])))
    return out


def word_diff(old: str, new: str) -> str:
    """HTML of word_ops: removed words in <del>, added ones in <ins>; every piece escaped."""
    tags = {"removed": "del", "added": "ins"}
    return "".join(f"<{tags[op]}>{html.escape(text)}</{tags[op]}>" if op in tags else html.escape(text)
                   for op, text in word_ops(old, new))


def sheets(report: Report) -> list[Sheet]:
    summary = Sheet("Summary", "summary.csv", ["What", "Value"])
    for what, value in (("from", f"{report.old.label} {report.old.commit}".strip()),
                        ("to", f"{report.new.label} {report.new.commit}".strip()),
                        *report.summary.items()):
        summary.rows.append([cell(what), cell(value)])
    added = Sheet("Needs added", "added.csv", ["ID", "Type", "Title", "Links"], wide=("Title", "Links"))
    removed = Sheet("Needs removed", "removed.csv", ["ID", "Type", "Title", "Links"], wide=("Title", "Links"))
    for sheet, rows in ((added, report.added), (removed, report.removed)):
        for r in rows:
            links = [f"{link}: {', '.join(targets)}" for link, targets in r["links"].items()]
            sheet.rows.append([cell(r["id"]), cell(r["type"]), cell(r["title"]), cell(links)])
    changed = Sheet("Fields changed", "changed.csv", ["ID", "Type", "Field", "Old", "New"], wide=("Old", "New"))
    for r in report.changed:
        changed.rows.append([cell(r["id"]), cell(r["type"]), cell(r["field"]), cell(as_text(r["old"]) or None),
                             cell(as_text(r["new"]) or None)])
    links = Sheet("Links", "links.csv", ["ID", "Link type", "Target", "Change"])
    for r in report.links:
        links.rows.append([cell(r["id"]), cell(r["link"]), cell(r["target"]), cell(r["change"])])
    coverage = Sheet("Coverage changes", "coverage.csv", ["ID", "Old", "New"])
    for r in report.coverage:
        coverage.rows.append([cell(r["id"]), cell(r["old"]), cell(r["new"])])
    suspect = Sheet("Suspect links raised", "suspect.csv", ["ID", "Target"])
    for r in report.suspect:
        suspect.rows.append([cell(r["id"]), cell(r["target"])])
    for sheet in (summary, added, removed, changed, links, coverage, suspect):
        sheet.urls = [None] * len(sheet.rows)
    return [summary, added, removed, changed, links, coverage, suspect]


STYLE = """body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:78em;padding:0 1em;color:#1d1d1f}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}th,td{border:1px solid #c9ccd1;padding:.3em .5em;
text-align:left;vertical-align:top}th{background:#dde6f0}del{background:#ffd7d5;color:#7a1111}
ins{background:#d3f5dc;color:#0b4d1f;text-decoration:none}code{font-size:.95em}"""


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Cells are HTML already escaped by the caller."""
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_page(report: Report) -> str:
    e = html.escape
    title = f"Changes since {report.old.label}"
    parts = [f"<h1>{e(title)}</h1>",
             f"<p>From <code>{e(report.old.label)}</code> {e(report.old.commit[:12])} to "
             f"<code>{e(report.new.label)}</code> {e(report.new.commit[:12])}. Removed words are "
             f"<del>struck through</del>, added words <ins>marked</ins>.</p>",
             _table(["What", "Count"], [[e(k), str(v)] for k, v in report.summary.items()])]
    for heading, rows in (("Needs added", report.added), ("Needs removed", report.removed)):
        parts.append(f"<h2>{heading}</h2>")
        parts.append(_table(["ID", "Type", "Title", "Links"], [
            [f"<code>{e(r['id'])}</code>", e(r["type"]), e(r["title"]),
             "<br>".join(f"{e(l)}: {e(', '.join(t))}" for l, t in r["links"].items())] for r in rows]))
    parts.append("<h2>Fields changed</h2>")
    rows = []
    for r in report.changed:
        old, new = as_text(r["old"]), as_text(r["new"])
        shown = word_diff(old, new) if r["field"] in TEXT_FIELDS else \
            (f"<del>{e(old)}</del> → <ins>{e(new)}</ins>" if old and new else
             f"<del>{e(old)}</del>" if old else f"<ins>{e(new)}</ins>")
        rows.append([f"<code>{e(r['id'])}</code>", e(r["field"]), shown])
    parts.append(_table(["ID", "Field", "Change"], rows))
    parts.append("<h2>Links</h2>")
    parts.append(_table(["ID", "Link type", "Target", "Change"], [
        [f"<code>{e(r['id'])}</code>", e(r["link"]), f"<code>{e(r['target'])}</code>",
         "<ins>added</ins>" if r["change"] == "added" else "<del>removed</del>"] for r in report.links]))
    parts.append("<h2>Coverage changes</h2>")
    parts.append(_table(["ID", "Old", "New"], [[f"<code>{e(r['id'])}</code>", e(as_text(r["old"])), e(as_text(r["new"]))]
                                               for r in report.coverage]))
    parts.append("<h2>Suspect links raised</h2>")
    parts.append(_table(["ID", "Target"], [[f"<code>{e(r['id'])}</code>", f"<code>{e(r['target'])}</code>"]
                                           for r in report.suspect]))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def write(report: Report, outdir: str | Path, when: datetime) -> list[Path]:
    """Write changes.html, changes.xlsx and changes.json into outdir, all or nothing: they are
    written beside it first and moved in together."""
    outdir = Path(outdir)
    if outdir.exists() and (not outdir.is_dir() or (any(outdir.iterdir()) and not (outdir / "changes.json").is_file())):
        raise ExportError(f"{outdir}: exists and is not an earlier change report; choose a new or empty directory")
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.tmp-", dir=outdir.parent))
    try:
        os.chmod(tmp, 0o755)
        (tmp / "changes.json").write_text(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        (tmp / "changes.html").write_text(html_page(report), encoding="utf-8")
        xlsx.write(sheets(report), tmp / "changes.xlsx", when, f"Changes since {report.old.label}")
        if outdir.exists():
            shutil.rmtree(outdir)
        tmp.rename(outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [outdir / n for n in ("changes.html", "changes.xlsx", "changes.json")]
