"""kb_shared.trees: the stack walk gives what docutils' findall gives, and the handlers that
finish a page share one walk of it."""

from __future__ import annotations

from docutils import nodes
from docutils.core import publish_doctree

from kb_shared.trees import elements, finished_page

SOURCE = """\
Title
=====

A paragraph with *emphasis* and a `link <https://example.org>`_.

- one

  - nested **strong**

    .. note:: A note in a nested list.

- two

+-----+---------------------+
| a   | - cell list         |
+-----+---------------------+

Section
-------

.. container:: outer

   .. container:: inner

      Deep text.
"""


def test_elements_are_those_findall_gives_in_the_same_order():
    doctree = publish_doctree(SOURCE)
    walked = list(elements(doctree))
    expected = list(doctree.findall(nodes.Element))
    assert len(walked) == len(expected) > 30
    assert all(a is b for a, b in zip(walked, expected))
    # from any element down, not only from the root
    table = next(iter(doctree.findall(nodes.table)))
    assert [type(n) for n in elements(table)] == [type(n) for n in table.findall(nodes.Element)]


def test_a_finished_page_is_walked_once():
    first, second = publish_doctree(SOURCE), publish_doctree("Other\n=====\n\nText.\n")
    walk = finished_page(first)
    assert finished_page(first) is walk, "the handlers of one page share the walk"
    assert finished_page(second) is not walk
    assert [type(n) for n in finished_page(second)] == [type(n) for n in second.findall(nodes.Element)]
