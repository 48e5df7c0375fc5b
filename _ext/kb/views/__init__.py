"""Views generated from the needs and the model: the model page, the tag pages, the browse
page and the crosswalk's pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sphinx.application import Sphinx
from sphinx_needs.api import get_needs_view

T = TypeVar("T")


def once_per_build(app: Sphinx, name: str, compute: Callable[[], T]) -> T:
    """``compute()``, once for the pages a build writes: what is computed from the sealed
    needs (and the environment, which does not change while pages are written) is the same for
    every page. Kept with the needs it was computed from, so a later build computes it again."""
    needs = get_needs_view(app)
    kept = app.__dict__.setdefault("kb_once_per_build", {})
    if name not in kept or kept[name][0] is not needs:
        kept[name] = (needs, compute())
    return kept[name][1]
