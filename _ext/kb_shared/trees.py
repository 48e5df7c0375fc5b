"""Walks of a docutils tree's elements, faster than ``Node.findall`` on large pages.

docutils' ``findall`` yields through one generator per level of the tree, so every node it
finds passes up through each generator above it; on a page of thousands of needs (a guideline
page extracting a third of them at 10,000 needs) one walk cost about a second. ``elements``
walks with a stack instead: the same elements in the same order (document order, the root
first), each element's children as they are when the walk reaches it.

``finished_page`` shares one walk among the handlers that finish a page (``doctree-resolved``
at priority ``FINISHING``, after every handler that adds or moves content): the site's tags
become links, a need's statement goes first, and its box gets a stable ID, each on elements
the others neither add nor remove."""

from __future__ import annotations

from collections.abc import Iterator

from docutils import nodes

#: The priority of the ``doctree-resolved`` handlers that use ``finished_page``: after
#: sphinx-needs (500) and the site's views (500 and 600) have put every element in place.
FINISHING = 900

_finished: tuple[nodes.document, list[nodes.Element]] | None = None


def elements(root: nodes.Element) -> Iterator[nodes.Element]:
    """``root`` and every element below it, in document order (``root.findall(nodes.Element)``)."""
    stack = [root]
    pop, extend = stack.pop, stack.extend
    while stack:
        node = pop()
        yield node
        extend([child for child in reversed(node.children) if isinstance(child, nodes.Element)])


def finished_page(doctree: nodes.document) -> list[nodes.Element]:
    """The elements of a page whose content is in place, walked once for every handler at
    ``FINISHING`` (the page is held here until the next one, so its id is not reused)."""
    global _finished
    if _finished is None or _finished[0] is not doctree:
        _finished = (doctree, list(elements(doctree)))
    return _finished[1]
