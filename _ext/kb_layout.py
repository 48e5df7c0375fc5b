"""The ``kb_fields`` layout function: a need's non-empty fields, rendered fast.

The need layouts in ubproject.toml show a need's type, title and ID, its non-empty fields and
its links in both directions. sphinx-needs' ``meta_all`` renders the fields, but parses every
field label as reStructuredText and walks every core field of the need on every call: about
two thirds of the time a need box costs, which on 10,000 needs (and their needextract copies)
is minutes. ``kb_fields(exclude=[...])`` renders exactly what ``meta_all(no_links=True,
exclude=[...])`` renders (the same nodes, so the same HTML; tests/test_layout.py compares
them) without those costs.

sphinx-needs has no API to add a layout function, so this module adds one to the function
table of its ``LayoutHandler``, and memoizes the parsing of the ``<<function(...)>>`` strings
of a layout, which are the same few strings for every need. Both are checked at start-up: if
an upgrade of sphinx-needs moves them, the build stops with a message instead of changing the
pages."""

from __future__ import annotations

import functools

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx_needs.data import NeedsCoreFields
from sphinx_needs.functions.functions import DynamicFunctionParsed
from sphinx_needs.layout import LayoutHandler

#: Core fields meta_all leaves out by default (the internal ones).
HIDDEN_CORE = frozenset(name for name, props in NeedsCoreFields.items() if not props.get("show_in_layout"))


def kb_fields(handler: LayoutHandler, exclude: list[str] | None = None) -> nodes.inline:
    """``meta_all(no_links=True, exclude=exclude)``: one line per non-empty field."""
    links = handler.needs_schema.iter_link_field_names()
    skip = HIDDEN_CORE | set(exclude or ()) | {n for link in links for n in (link, f"{link}_back")}
    container = nodes.inline()
    for name, value in handler.need.items():
        if name in skip or value is None or value == "" or value == []:
            continue  # what meta() shows nothing for
        data = handler.meta(name)  # no prefix: meta() would parse it as reStructuredText
        label = nodes.inline(classes=["needs_label"])
        label += nodes.Text(f"{name}: ")
        data.insert(0, label)
        line = nodes.line()
        line += data
        container += line
    return container


def _install() -> None:
    init = LayoutHandler.__init__
    if getattr(init, "kb_layout", False):
        return
    if not callable(getattr(LayoutHandler, "meta", None)) or not callable(getattr(DynamicFunctionParsed, "from_string", None)):
        raise ExtensionError("kb_layout: sphinx-needs' LayoutHandler changed; update _ext/kb_layout.py")

    @functools.wraps(init)
    def with_kb_fields(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.functions["kb_fields"] = functools.partial(kb_fields, self)

    with_kb_fields.kb_layout = True
    LayoutHandler.__init__ = with_kb_fields

    parse = DynamicFunctionParsed.from_string

    @functools.lru_cache(maxsize=256)
    def parsed(func_string: str, allow_need: bool) -> DynamicFunctionParsed:
        return parse(func_string, allow_need=allow_need)

    def from_string(cls, func_string: str, *, allow_need: bool = False) -> DynamicFunctionParsed:
        # new lists: a layout function may change a list it is given (meta_all's exclude);
        # the parser gives lists of str, int, float and bool only
        call = parsed(func_string, allow_need)
        fresh = lambda value: list(value) if isinstance(value, list) else value  # noqa: E731
        return DynamicFunctionParsed(call.name, tuple(fresh(a) for a in call.args),
                                     tuple((key, fresh(value)) for key, value in call.kwargs))

    DynamicFunctionParsed.from_string = classmethod(from_string)


def setup(app: Sphinx) -> dict:
    _install()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
