"""Clear errors for bad content.

sphinx-needs reports schema violations (a value outside its vocabulary, a missing link,
missing coverage) without a source location, and reports a need it could not create without
naming the need. This module adds both to the message, with a hint on how to fix it, so that
every error names the file, the line and the need."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx_needs.data import SphinxNeedsData

SCHEMA_MESSAGE = re.compile(r"^Need '(?P<id>[^']+)' has schema (violations|warnings):")
NOT_CREATED = re.compile(r"^Need could not be created: ")

HINTS = {
    "field_fail": "fix: use a value the model allows (see ubproject.toml [needs.fields] and the "
                  "site's Information model page)",
    "link_fail": "fix: add the missing link (see the type's links in ubproject.toml)",
    "local_fail": "fix: add what the rule asks for",
}
COVERAGE_HINT = ("fix: link a {kind} to it ({link} naming this ID), or give it a :rationale: "
                 "saying why none is needed")
RULE_HINTS = {
    "coverage-design": COVERAGE_HINT.format(kind="design control", link=":implements:"),
    "coverage-verification": COVERAGE_HINT.format(kind="test", link=":verifies:"),
    "coverage-post-market": COVERAGE_HINT.format(kind="post-market activity", link=":maintains:"),
    "coverage-end-of-support": COVERAGE_HINT.format(kind="post-market activity", link=":maintains:"),
    "design-verified": "fix: add a test whose :verifies: names this design control",
}


class LocateNeedMessages(logging.Filter):
    """Give sphinx-needs' messages about a need that need's file and line."""

    def __init__(self, app: Sphinx) -> None:
        super().__init__()
        self.app = app

    def filter(self, record: logging.LogRecord) -> bool:
        # every handler of the "sphinx" logger runs this filter: change a record once
        if getattr(record, "kb_located", False):
            return True
        record.kb_located = True
        message = str(record.msg)
        if match := SCHEMA_MESSAGE.match(message):
            need = self._need(match["id"])
            if need is not None and getattr(record, "location", None) is None:
                record.location = (need["docname"], need["lineno"])
            rule = re.search(r"Schema path:\s+([\w-]+)\[", message)
            hint = RULE_HINTS.get(rule.group(1)) if rule else None
            subtype = str(getattr(record, "subtype", "") or "")
            hint = hint or next((h for r, h in HINTS.items() if subtype.endswith(r)), None)
            if hint:
                record.msg = f"{message}\n  {hint}"
        elif NOT_CREATED.match(message):
            need_id = self._id_at(getattr(record, "location", None))
            if need_id:
                record.msg = message.replace(
                    "Need could not be created:", f"Need '{need_id}' could not be created:", 1
                ) + "\n  fix: give the field a value (see ubproject.toml for the type's required fields)"
        return True

    def _need(self, need_id: str):
        try:
            needs = SphinxNeedsData(self.app.env).get_needs_view()
        except Exception:  # needs not sealed yet: report without a location
            return None
        return needs.get(need_id)

    def _id_at(self, location) -> str | None:
        """The ``:id:`` of the directive starting at a 'path:line' location."""
        if not isinstance(location, str) or ":" not in location:
            return None
        path, _, line = location.rpartition(":")
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()[int(line) - 1:int(line) + 30]
        except (OSError, ValueError):
            return None
        for text in lines[1:]:
            if m := re.match(r"\s*:id:\s*(\S+)", text):
                return m.group(1)
            if re.match(r"\s*(\.\. |```|$)", text) and not text.strip().startswith(":"):
                if text.strip() == "":
                    break
        return None


def install(app: Sphinx) -> None:
    locate = LocateNeedMessages(app)
    for handler in logging.getLogger("sphinx").handlers:
        handler.filters.insert(0, locate)


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", install)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
