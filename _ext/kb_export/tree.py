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

from .needs import NeedsFile
from .ordering import natural_key

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
    derived: dict[str, list[dict]] = {}  # guideline ID -> the needs deriving from it, in file order
    for need in selected.values():
        for target in dict.fromkeys(need.get(SOURCE_LINK) or []):
            derived.setdefault(target, []).append(need)
    for guideline in selected.values():
        members = derived.get(guideline["id"])
        if not members:
            continue
        members.sort(key=lambda n: (natural_key(str(n.get(SECTION) or "")), natural_key(n["id"])))
        names = section_names(members)
        root = Node()
        root.needs.append(guideline["id"])
        for need in members:
            node = root
            section = need.get(SECTION)
            if isinstance(section, str) and section:
                parts = section.split(".")
                for depth in range(1, len(parts) + 1):
                    key = ".".join(parts[:depth])
                    node = node.child(key, lambda k=key: names.get(k) or f"Section {k}")
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


def section_names(members: list[dict]) -> dict[str, str]:
    """Section number -> the page heading that names it, e.g. '5.3' -> 'N60 §5.3 Security
    testing': the innermost heading naming it, of the first need in or below that section."""
    names: dict[str, str] = {}
    for need in members:
        parts = str(need.get(SECTION) or "").split(".")
        for key in (".".join(parts[:depth]) for depth in range(1, len(parts) + 1)):
            if key and key not in names:
                pattern = re.compile(rf"(^|[\s§]){re.escape(key)}(\s|$)")
                heading = next((str(h) for h in need.get("sections") or [] if pattern.search(str(h))), None)
                if heading is not None:
                    names[key] = heading
    return names
