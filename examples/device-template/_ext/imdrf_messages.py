"""Clear messages about the device file's needs.

- A link to an ID that does not exist: sphinx-needs reports it with the file, the line, the
  need and the ID ("Need 'LVP_DC_X' has unknown outgoing link 'REQ_N60_5_3_99' in field
  'implements'"). In a device file most links point into the IMDRF knowledge base, so the
  likely causes are a typo or an ID from another version of it: the message gains where the
  known IDs came from and the closest existing IDs, so the author can fix the link without
  searching.
- A schema violation (a missing test, a decision without rationale): sphinx-needs reports it
  without a location; the message gains the need's file and line."""

from __future__ import annotations

import difflib
import json
import logging
import re

from kb_shared.logs import OnceFilter, install
from kb_shared.sources import NOT_CREATED, name_the_need
from sphinx.application import Sphinx
from sphinx_needs.data import SphinxNeedsData

from imdrf_interchange import load_interchange

SCHEMA_MESSAGE = re.compile(r"^Need '(?P<need>[^']+)' has schema (violations|warnings):")
DEAD_LINK = re.compile(r"^Need '(?P<need>[^']+)' has unknown outgoing link '(?P<target>[^'\[.]+)[^']*' "
                       r"in field '(?P<field>[^']+)'")


class ExplainDeadLinks(OnceFilter):
    def __init__(self, app: Sphinx) -> None:
        super().__init__()
        self.app = app
        self._kb_ids: list[str] | None = None

    def complete(self, record: logging.LogRecord) -> None:
        message = str(record.msg)
        if match := DEAD_LINK.match(message):
            record.msg = f"{message}\n  {self.explain(match['target'])}"
        elif message.startswith(NOT_CREATED):
            record.msg = name_the_need(message, getattr(record, "location", None))[0]
        elif (match := SCHEMA_MESSAGE.match(message)) and getattr(record, "location", None) is None:
            need = self.need(match["need"])
            if need is not None and need["docname"]:
                record.location = (need["docname"], need["lineno"])

    def need(self, need_id: str):
        try:  # schema checks run once the needs are sealed
            return SphinxNeedsData(self.app.env).get_needs_view().get(need_id)
        except RuntimeError:
            return None

    def kb_ids(self) -> list[str]:
        if self._kb_ids is None:
            document = json.loads(load_interchange(self.app)["_paths"]["needs"].read_text(encoding="utf-8"))
            self._kb_ids = sorted(document["versions"][document["current_version"]]["needs"])
        return self._kb_ids

    def own_ids(self) -> list[str]:
        data = SphinxNeedsData(self.app.env)
        try:  # links are checked while the needs are still being resolved
            needs = data.get_needs_mutable()
        except RuntimeError:
            needs = data.get_needs_view()
        return [i for i, n in needs.items() if not n["is_external"]]

    def explain(self, target: str) -> str:
        model = load_interchange(self.app)
        candidates = [*self.kb_ids(), *self.own_ids()]
        close = difflib.get_close_matches(target, candidates, n=3, cutoff=0.75)
        hint = f"; closest existing IDs: {', '.join(close)}" if close else ""
        return (f"{target} is neither a need of this project nor an ID of the IMDRF knowledge base "
                f"(interchange {model['interchange']['version']}, {model['_paths']['needs']}){hint}. "
                f"Published IDs never change: correct the ID in the link")


def install_filter(app: Sphinx) -> None:
    install(ExplainDeadLinks(app))


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", install_filter)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
