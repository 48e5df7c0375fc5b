"""Clear errors for bad content.

sphinx-needs reports a schema violation without a source location, a need it could not create
without naming the need, and none of its messages says how to fix the problem. This module
adds what is missing, so that every error about a need names the file, the line and the need,
says what is wrong and ends with "fix: ...". The hints are data, [kb.fix] in ubproject.toml;
this module only picks one and fills it in from the message and the model."""

from __future__ import annotations

import logging
import re

from kb_shared.logs import OnceFilter, install
from kb_shared.sources import name_the_need
from sphinx.application import Sphinx
from sphinx_needs.api import get_needs_view

from .. import compat
from ..model import model_of

NAMES_NEED = re.compile(compat.NAMES_NEED)  # schema and link messages
NOT_CREATED = re.compile(compat.NOT_CREATED)


class LocateNeedMessages(OnceFilter):
    """Give sphinx-needs' messages about a need that need's file, line, ID and a fix."""

    def __init__(self, app: Sphinx) -> None:
        super().__init__()
        self.app = app
        self.model = model_of(app.confdir)

    def complete(self, record: logging.LogRecord) -> None:
        message = str(record.msg)
        location = getattr(record, "location", None)
        need_type = need_id = None
        if match := NAMES_NEED.match(message):
            need_id = match["id"]
            # only schema messages lack a location; they come once the needs are sealed.
            # A link message comes while they are processed: looking a need up then would
            # process them again, and log the same message again.
            if location is None and (need := self._need(match["id"])) is not None:
                record.location = (need["docname"], need["lineno"])
                need_type = need["type"]
        elif NOT_CREATED.match(message):
            message, need_type, need_id = name_the_need(message, location)
            # "defined at index:13" names a document: name its file
            message = re.sub(r"defined at (\S+):(\d+)", self._file_of, message)
        else:
            return
        subtype = str(getattr(record, "subtype", "") or "")
        if hint := self.hint(message, subtype, need_type, need_id):
            message += f"\n  fix: {hint}"
        record.msg = message

    def hint(self, message: str, subtype: str, need_type: str | None,
             need_id: str | None) -> str | None:
        """The [kb.fix] hint for the first KINDS entry the message matches, filled in. A schema
        rule's hint is under its id, or under its id without the last part (a family of
        rules, one per type, shares one hint)."""
        fixes = self.model.fixes
        for suffix, pattern, key in compat.MESSAGE_KINDS:
            if subtype.endswith(suffix) and (m := re.search(pattern, message)):
                values = {"id": need_id, **{k: v for k, v in m.groupdict().items() if v}}
                rule = values.get("rule", "")
                key = key or next((k for k in (rule, rule.rpartition("-")[0]) if k in fixes), None)
                if key in fixes:
                    values.update(self._details(values, need_type))
                    return fixes[key].format_map(_Blank(values))
        return None

    def _details(self, found: dict, need_type: str | None) -> dict[str, str]:
        """What the hints say about the field or link type named in the message."""
        needs = self.model.needs
        name = found.get("field")
        field = needs["fields"].get(name, {})
        link = needs["links"].get(name, {})
        per_type = needs["types"].get(need_type, {})
        description = (link or field).get("description", "")
        out = {
            "description": description[:1].lower() + description[1:].rstrip("."),
            "allowed": _allowed(field.get("schema", {}), field.get("description", "")),
            "targets": " or ".join(link.get("target_types", [])),
            "count": _count(per_type.get("links", {}).get(name, {}).get("schema", {})),
            "prefix": per_type.get("prefix", "(see [needs.types])"),
        }
        if (need_id := found.get("id")) and "prefix" in per_type:
            # the ID in the scheme: upper case, words joined by _, behind its own type's prefix
            words = re.sub(r"[^A-Z0-9]+", "_", need_id.upper()).strip("_") + "_"
            prefix = next((p for p in _prefixes(needs) if words.startswith(p)), "")
            out["suggestion"] = per_type["prefix"] + words[len(prefix):].rstrip("_")
        return out

    def _need(self, need_id: str):
        try:
            needs = get_needs_view(self.app)
        except Exception:  # needs not sealed yet: report without a location
            return None
        return needs.get(need_id)

    def _file_of(self, match: re.Match) -> str:
        try:
            path = self.app.env.doc2path(match[1], base=False)
        except Exception:  # not a document name: leave the text as it is
            return match[0]
        return f"defined at {path}:{match[2]}"


def _prefixes(needs: dict) -> list[str]:
    return [decl["prefix"] for decl in needs["types"].values()]


class _Blank(dict):
    """Fill a placeholder the message gave no value for with nothing rather than fail."""

    def __missing__(self, key: str) -> str:
        return ""


def _allowed(schema: dict, description: str) -> str:
    values = schema.get("enum") or schema.get("items", {}).get("enum")
    if values:
        many = "values" if schema.get("type") == "array" else "one"
        return f"{many} of: {', '.join(values)}"
    if "pattern" in schema:
        return f"a value matching {schema['pattern']} ({description.rstrip('.')})"
    return f"a value as the model describes it: {description.rstrip('.')}"


def _count(schema: dict) -> str:
    if schema.get("minItems") == 1 and schema.get("maxItems") == 1:
        return "exactly one"
    return "at least one" if schema.get("minItems") else "the right"


def install_filter(app: Sphinx) -> None:
    install(LocateNeedMessages(app))


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", install_filter)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
