"""The input of the exports: a sphinx-needs needs.json, checked and described.

Everything the formats need (need types and their titles, the link types, the fields worth
carrying) is read from the file itself, not from this project's ubproject.toml, so that the
export of another project's needs.json carries its types, fields and links like ours. A file
that is not a usable needs.json stops the export with one line naming the file and the
problem (ExportError)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .ordering import natural_key


class ExportError(Exception):
    """A problem the user can fix; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


# sphinx-needs' own bookkeeping: derived from the document or the build, not content the
# author wrote. Used when an older needs.json has no "needs_schema" saying which fields are
# core; a newer one marks them with field_type "core".
SPHINX_NEEDS_CORE = frozenset({
    "arch", "constraints", "constraints_error", "constraints_passed", "constraints_results",
    "content", "doctype", "docname", "external_css", "external_url", "has_dead_links",
    "has_forbidden_dead_links", "id", "id_complete", "id_parent", "is_external", "is_import",
    "is_modified", "is_need", "is_part", "jinja_content", "layout", "lineno", "modifications",
    "parent_need", "parts", "post_content", "post_template", "pre_content", "pre_template",
    "section_name", "sections", "signature", "status", "style", "tags", "template", "title",
    "type", "type_name", "content_id", "collapse", "hide", "delete", "target_id",
})
# ... of which these are what authors set or auditors need, so they are carried.
CORE_CARRIED = ("status", "tags", "constraints", "parts", "external_url", "docname", "lineno")
# The need types of the N60 model (ubproject.toml), in the order the exports present them.
TYPE_ORDER = ("guideline", "req", "design", "test", "postmarket", "standard")
# Handled by every format on their own: the identity and the text of a need.
IDENTITY = ("id", "type", "title", "content")


@dataclass
class NeedsFile:
    path: Path
    raw: bytes                  # the file as read, for its checksum and the verbatim copy
    document: dict              # the whole JSON document
    version: str                # the key of the version exported
    needs: dict[str, dict]      # every need of that version, by ID, in natural ID order
    link_types: list[str]       # outgoing link fields; each has a "<name>_back" twin
    fields: list[str]           # other fields worth carrying, core ones first

    @property
    def project(self) -> str:
        return str(self.document.get("project") or "")

    @property
    def creator(self) -> str:
        creator = self.document.get("versions", {}).get(self.version, {}).get("creator") or {}
        if isinstance(creator, dict) and creator.get("program"):
            return f"{creator['program']} {creator.get('version', '')}".strip()
        return "unknown"

    def types(self, needs: dict[str, dict] | None = None) -> dict[str, str]:
        """Need type -> its title (type_name): the N60 model's types in the model's order,
        then any other type in order of first appearance."""
        return types_of((self.needs if needs is None else needs).values())


def types_of(needs) -> dict[str, str]:
    """Need type -> title of the given needs: the model's types first, in its order."""
    out: dict[str, str] = {}
    for need in needs:
        out.setdefault(need["type"], str(need.get("type_name") or need["type"]))
    rank = {t: i for i, t in enumerate(TYPE_ORDER)}
    return dict(sorted(out.items(), key=lambda item: rank.get(item[0], len(rank))))


def is_empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def load(path: str | Path) -> NeedsFile:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ExportError(f"{path}: cannot read the file: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ExportError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise ExportError(f"{path}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    return from_document(document, path, raw)


def from_document(document, path: Path, raw: bytes = b"") -> NeedsFile:
    """A needs.json document already parsed (``path`` names it in messages)."""
    version, needs_raw = _version(path, document)
    needs = {key: _check_need(path, key, need) for key, need in needs_raw.items()}
    link_types = _link_types(document["versions"][version], needs)
    for need in needs.values():
        for link in link_types:
            value = need.get(link)
            if value is not None and not (isinstance(value, list) and all(isinstance(t, str) for t in value)):
                raise ExportError(f"{path}: need {need['id']!r}: link field {link!r} is not a list of IDs")
    ordered = dict(sorted(needs.items(), key=lambda item: natural_key(item[0])))
    return NeedsFile(path, raw, document, version, ordered, link_types,
                     _carried_fields(document["versions"][version], needs, link_types))


def _version(path: Path, document) -> tuple[str, dict]:
    if not isinstance(document, dict):
        raise ExportError(f"{path}: not a sphinx-needs needs.json: the top level is a "
                          f"{type(document).__name__}, not an object")
    versions = document.get("versions")
    if not isinstance(versions, dict) or not versions:
        raise ExportError(f"{path}: not a sphinx-needs needs.json: it has no 'versions' object")
    if "current_version" in document:
        version = document["current_version"]
    elif len(versions) == 1:  # files of old sphinx-needs releases may lack the key
        version = next(iter(versions))
    else:
        raise ExportError(f"{path}: no 'current_version' says which of {len(versions)} versions to export")
    if not isinstance(version, str) or version not in versions:
        raise ExportError(f"{path}: current_version {version!r} is not one of the 'versions'")
    block = versions[version]
    if not isinstance(block, dict) or not isinstance(block.get("needs"), dict):
        raise ExportError(f"{path}: version {version!r} has no 'needs' object")
    return version, block["needs"]


def _check_need(path: Path, key: str, need) -> dict:
    if not isinstance(need, dict):
        raise ExportError(f"{path}: need {key!r} is a {type(need).__name__}, not an object")
    need_id = need.get("id")
    if not isinstance(need_id, str) or not need_id.strip():
        raise ExportError(f"{path}: need {key!r} has no 'id'")
    if need_id != key:
        raise ExportError(f"{path}: need {key!r} carries the different id {need_id!r}")
    if re.search(r"[\s\x00-\x1f]", need_id):
        raise ExportError(f"{path}: need id {need_id!r} contains white space or a control character")
    if not isinstance(need.get("type"), str) or not need["type"]:
        raise ExportError(f"{path}: need {key!r} has no 'type'")
    for text in ("title", "content"):
        if need.get(text) is not None and not isinstance(need[text], str):
            raise ExportError(f"{path}: need {key!r}: {text!r} is not text")
    return need


def _link_types(block: dict, needs: dict[str, dict]) -> list[str]:
    """From the schema sphinx-needs writes since 2.x, else: list fields with a _back twin."""
    properties = (block.get("needs_schema") or {}).get("properties") or {}
    declared = [name for name, p in properties.items()
                if isinstance(p, dict) and p.get("field_type") == "links"]
    keys = {k for need in needs.values() for k in need}
    inferred = [k for k in keys if not k.endswith("_back") and f"{k}_back" in keys]
    return sorted(set(declared) | set(inferred))


def _carried_fields(block: dict, needs: dict[str, dict], link_types: list[str]) -> list[str]:
    """Every field an author or the project's extensions set; sphinx-needs internals are left
    to needs.json. Unknown fields of a foreign project are carried: only core ones are not."""
    properties = (block.get("needs_schema") or {}).get("properties") or {}
    core = {n for n, p in properties.items() if isinstance(p, dict) and p.get("field_type") == "core"}
    core |= SPHINX_NEEDS_CORE
    links = set(link_types) | {f"{l}_back" for l in link_types}
    keys = {k for need in needs.values() for k in need}
    extra = sorted(k for k in keys - core - links
                   if properties.get(k, {}).get("field_type") != "backlinks")
    return [f for f in CORE_CARRIED if f in keys] + extra
