"""Where each need sits in the ReqIF specifications: the order a reader of the guideline
expects, decided apart from how ReqIF encodes it.

A guideline (any need that others link to with ``derives_from``, as N60's requirements do)
gets a specification of its own: the guideline first, then its requirements in a tree of
section numbers (5 > 5.5 > 5.5.2) named by the page headings that carry those numbers. Every
other need goes into a specification per need type, in the tree of its page's headings
(sphinx-needs' ``sections``), in document order; a project without guidelines gets only
these."""

from __future__ import annotations

import re

from kb_export_needs import NeedsFile, natural_key

SOURCE_LINK, SECTION = "derives_from", "section"  # the N60 model's names


class Node:
    """A heading: the needs right under it, then its subheadings."""

    def __init__(self, title: str = "") -> None:
        self.title, self.needs, self.children = title, [], {}

    def child(self, key: str, title) -> "Node":
        if key not in self.children:
            self.children[key] = Node(title())
        return self.children[key]

    def sort(self) -> None:
        self.children = dict(sorted(self.children.items(), key=lambda item: natural_key(item[0])))
        for child in self.children.values():
            child.sort()


def trees(source: NeedsFile, selected: dict[str, dict]) -> list[tuple[str, str, Node]]:
    """(key, title, root) of every specification."""
    out, placed = [], set()
    for guideline in selected.values():
        members = [n for n in selected.values() if guideline["id"] in (n.get(SOURCE_LINK) or [])]
        if not members:
            continue
        members.sort(key=lambda n: (natural_key(str(n.get(SECTION) or "")), natural_key(n["id"])))
        root = Node()
        root.needs.append(guideline["id"])
        for need in members:
            node = root
            section = need.get(SECTION)
            if isinstance(section, str) and section:
                parts = section.split(".")
                for depth in range(1, len(parts) + 1):
                    key = ".".join(parts[:depth])
                    node = node.child(key, lambda k=key: section_name(k, members))
            node.needs.append(need["id"])
        root.sort()
        out.append((f"source-{guideline['id']}", guideline.get("title") or guideline["id"], root))
        placed |= {guideline["id"], *(n["id"] for n in members)}
    for need_type, title in source.types(selected).items():
        rest = sorted((n for n in selected.values() if n["type"] == need_type and n["id"] not in placed),
                      key=lambda n: (str(n.get("docname") or ""), n.get("lineno") or 0, natural_key(n["id"])))
        if not rest:
            continue
        root = Node()
        for need in rest:
            node = root
            for heading in reversed(need.get("sections") or []):  # sphinx-needs lists innermost first
                node = node.child(str(heading), lambda h=str(heading): h)
            node.needs.append(need["id"])
        out.append((f"type-{need_type}", title, root))
    return out


def section_name(section: str, members: list[dict]) -> str:
    """The page heading that names a section number, e.g. 'N60 §5.3 Security testing'."""
    pattern = re.compile(rf"(^|[\s§]){re.escape(section)}(\s|$)")
    for need in members:
        own = str(need.get(SECTION) or "")
        if own == section or own.startswith(section + "."):
            for heading in need.get("sections") or []:  # the innermost heading that names it
                if pattern.search(str(heading)):
                    return str(heading)
    return f"Section {section}"
