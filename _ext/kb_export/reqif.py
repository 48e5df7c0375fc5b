"""The ReqIF 1.2 export, built with the ``reqif`` library's model and unparser.

A SPEC-OBJECT-TYPE per need type, with an attribute per field the type uses (ReqIF.ForeignID
holds the need ID, ReqIF.Name the title, ReqIF.Text the content); a SPEC-RELATION-TYPE per
link type and a SPEC-RELATION per link; a crosswalk mapping link type (crosswalk.py) is
named with its evidence marker, "maps_primary [P]", so a tool shows the evidence level of each
mapping with its type; a SPECIFICATION per guideline with its requirements
in a tree of the guideline's sections, and one per further need type, in the tree of the
pages' headings.

Two limits of reqif 0.1.0's unparser shape what is written: it escapes some XML attributes
and not others, so names it does not escape are escaped here (``_xml``), and it writes
STRING values as XML attributes, whose line breaks any XML reader turns into spaces, so a
field with line breaks is written as XHTML. A link whose target is not exported (a dead
link, a need part, a need left out by a filter) cannot be a SPEC-RELATION; its source keeps
it in the attribute "unresolved links" (JSON: link type -> targets). Which need goes where in
the specification trees is decided in tree.py."""

from __future__ import annotations

import hashlib
import html
import json
import re
from datetime import datetime

from reqif.models.reqif_core_content import ReqIFCoreContent
from reqif.models.reqif_data_type import (
    ReqIFDataTypeDefinitionBoolean, ReqIFDataTypeDefinitionEnumeration,
    ReqIFDataTypeDefinitionInteger, ReqIFDataTypeDefinitionString,
    ReqIFDataTypeDefinitionXHTML, ReqIFEnumValue)
from reqif.models.reqif_namespace_info import ReqIFNamespaceInfo
from reqif.models.reqif_req_if_content import ReqIFReqIFContent
from reqif.models.reqif_reqif_header import ReqIFReqIFHeader
from reqif.models.reqif_spec_hierarchy import ReqIFSpecHierarchy
from reqif.models.reqif_spec_object import ReqIFSpecObject, SpecObjectAttribute
from reqif.models.reqif_spec_object_type import ReqIFSpecObjectType, SpecAttributeDefinition
from reqif.models.reqif_spec_relation import ReqIFSpecRelation
from reqif.models.reqif_spec_relation_type import ReqIFSpecRelationType
from reqif.models.reqif_specification import ReqIFSpecification
from reqif.models.reqif_specification_type import ReqIFSpecificationType
from reqif.models.reqif_types import SpecObjectAttributeType as T
from reqif.object_lookup import ReqIFObjectLookup
from reqif.reqif_bundle import ReqIFBundle
from reqif.unparser import ReqIFUnparser

from .needs import NeedsFile, is_empty
from .ordering import natural_key
from .tables import UNWRITABLE
from .tree import Node, trees

UNRESOLVED = "unresolved links"
KIND_TYPE = {"string": T.STRING, "xhtml": T.XHTML, "integer": T.INTEGER, "boolean": T.BOOLEAN,
             "enum": T.ENUMERATION}


class Ids:
    """IDENTIFIERs (xsd:ID) from readable keys; a key that is no NCName, or would collide,
    gets a hash instead, so any need ID and field name can be carried."""

    def __init__(self) -> None:
        self.by_key: dict[tuple, str] = {}
        self.used: set[str] = set()

    def __call__(self, prefix: str, *parts: str) -> str:
        key = (prefix, *parts)
        if key not in self.by_key:
            ident = f"{prefix}-{'--'.join(parts)}"
            if not re.fullmatch(r"[A-Za-z_][\w.-]*", ident) or ident in self.used:
                ident = f"{prefix}-{hashlib.sha256(repr(key).encode()).hexdigest()[:24]}"
            self.used.add(ident)
            self.by_key[key] = ident
        return self.by_key[key]


def _clean(value: str) -> str:
    return UNWRITABLE.sub("\ufffd", value)


def _xml(value: str) -> str:
    """For the XML attributes reqif's unparser writes without escaping them."""
    return html.escape(_clean(value), quote=True)


def _xhtml(value: str) -> str:
    """Text as XHTML paragraphs; joining the paragraphs with a blank line gives it back.
    Carriage returns are written as references, which XML readers keep."""
    paragraphs = _clean(value).split("\n\n")
    body = "".join(f"<xhtml:p>{html.escape(p, quote=False).replace(chr(13), '&#13;')}</xhtml:p>"
                   for p in paragraphs)
    return f"<xhtml:div>{body}</xhtml:div>"


def _kind(values: list) -> str:
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if all(isinstance(v, list) and all(isinstance(i, str) for i in v) for v in values):
        return "enum"
    if all(isinstance(v, str) for v in values):
        return "xhtml" if any(re.search(r"[\n\r\t]", v) for v in values) else "string"
    return "string"  # anything else as its JSON text


class ReqIFWriter:
    def __init__(self, source: NeedsFile, selected: dict[str, dict], when: datetime,
                 markers: dict[str, str] | None = None) -> None:
        self.source, self.selected, self.ids = source, selected, Ids()
        self.markers = markers or {}  # mapping link type -> evidence marker
        self.stamp = when.isoformat(timespec="seconds")
        self.data_types: list = []
        self.spec_types: list = []
        self.objects: list[ReqIFSpecObject] = []
        self.attr_kinds: dict[str, list[tuple[str, str]]] = {}  # need type -> its attributes
        values = {}
        for need in selected.values():
            for name in source.fields:
                if not is_empty(need.get(name)):
                    values.setdefault(name, []).append(need[name])
        self.kinds = {name: _kind(vals) for name, vals in values.items()}
        longest = max([len(json.dumps(v, ensure_ascii=False)) for vals in values.values() for v in vals]
                      + [len(n.get("title") or "") for n in selected.values()] + [255])
        self.dt = {"string": self._dt(ReqIFDataTypeDefinitionString, "string", "String", max_length=str(longest)),
                   "xhtml": self._dt(ReqIFDataTypeDefinitionXHTML, "xhtml", "XHTML"),
                   "integer": self._dt(ReqIFDataTypeDefinitionInteger, "integer", "Integer",
                                       min_value=str(-2**63), max_value=str(2**63 - 1)),
                   "boolean": self._dt(ReqIFDataTypeDefinitionBoolean, "boolean", "Boolean")}
        self.enums = {name: self._enum(name, values[name]) for name, k in self.kinds.items() if k == "enum"}

    def _dt(self, cls, key: str, name: str, **extra):
        dt = cls(identifier=self.ids("DT", key), long_name=name, last_change=self.stamp, **extra)
        self.data_types.append(dt)
        return dt

    def _enum(self, field: str, lists: list[list[str]]):
        keys = sorted({v for values in lists for v in values}, key=natural_key)
        values = [ReqIFEnumValue(identifier=self.ids("EV", field, v), key=str(i), other_content="",
                                 long_name=_clean(v), last_change=self.stamp) for i, v in enumerate(keys)]
        dt = ReqIFDataTypeDefinitionEnumeration(identifier=self.ids("DT", "enum", field), long_name=_clean(field),
                                                values=values, last_change=self.stamp)
        self.data_types.append(dt)
        return dt

    def _attr_def(self, owner: str, name: str, kind: str) -> SpecAttributeDefinition:
        dt = self.enums[name] if kind == "enum" else self.dt[kind]
        return SpecAttributeDefinition(
            attribute_type=KIND_TYPE[kind], identifier=self.ids("AD", owner, name),
            datatype_definition=dt.identifier, long_name=_clean(name), last_change=self.stamp,
            multi_valued=True if kind == "enum" else None)

    def _value(self, owner: str, name: str, kind: str, value) -> SpecObjectAttribute:
        if kind == "enum":
            value = [self.ids("EV", name, v) for v in value]
        elif kind == "xhtml":
            value = _xhtml(value)
        elif kind == "boolean":
            value = "true" if value else "false"
        elif kind == "integer":
            value = str(value)
        else:
            value = _clean(value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False))
        return SpecObjectAttribute(attribute_type=KIND_TYPE[kind], definition_ref=self.ids("AD", owner, name), value=value)

    def object_types(self) -> None:
        for need_type, title in self.source.types(self.selected).items():
            needs = [n for n in self.selected.values() if n["type"] == need_type]
            attrs = [("ReqIF.ForeignID", "string"), ("ReqIF.Name", "string"), ("ReqIF.Text", "xhtml")]
            attrs += [(f, self.kinds[f]) for f in self.source.fields if any(not is_empty(n.get(f)) for n in needs)]
            if any(self._unresolved(n) for n in needs):
                attrs.append((UNRESOLVED, "string"))
            self.spec_types.append(ReqIFSpecObjectType(
                identifier=self.ids("SOT", need_type), long_name=_clean(title), last_change=self.stamp,
                description=f"sphinx-needs need type {_clean(need_type)}",
                attribute_definitions=[self._attr_def(need_type, n, k) for n, k in attrs]))
            self.attr_kinds[need_type] = attrs
        self.spec_types.append(ReqIFSpecObjectType(
            identifier=self.ids("SOT", "-heading"), long_name="Heading", last_change=self.stamp,
            attribute_definitions=[self._attr_def("-heading", "ReqIF.ChapterName", "string")]))

    def _unresolved(self, need: dict) -> dict[str, list[str]]:
        out = {}
        for link in self.source.link_types:
            missing = [t for t in need.get(link) or [] if t not in self.selected]
            if missing:
                out[link] = missing
        return out

    def spec_objects(self) -> None:
        for need in self.selected.values():
            given = {"ReqIF.ForeignID": need["id"], "ReqIF.Name": need.get("title") or "",
                     "ReqIF.Text": need.get("content") or "", UNRESOLVED: self._unresolved(need) or None}
            values = []
            for name, kind in self.attr_kinds[need["type"]]:
                value = given[name] if name in given else need.get(name)
                if not is_empty(value):
                    values.append(self._value(need["type"], name, kind, value))
            self.objects.append(ReqIFSpecObject(identifier=self.ids("SO", need["id"]), attributes=values,
                                                spec_object_type=self.ids("SOT", need["type"]),
                                                last_change=self.stamp))

    def relations(self) -> tuple[list, list]:
        types, relations = [], []
        for link in self.source.link_types:
            name, description = link, f"sphinx-needs link type {link}"
            if link in self.markers:
                name = f"{link} {self.markers[link]}"
                description += (f": a crosswalk mapping to a framework clause, evidence level "
                                f"{self.markers[link]}")
            types.append(ReqIFSpecRelationType(identifier=self.ids("SRT", link), long_name=_xml(name),
                                               description=_clean(description), last_change=self.stamp))
            for need in self.selected.values():
                for target in need.get(link) or []:
                    if target in self.selected:
                        relations.append(ReqIFSpecRelation(
                            identifier=self.ids("SR", need["id"], link, target), relation_type_ref=self.ids("SRT", link),
                            source=self.ids("SO", need["id"]), target=self.ids("SO", target), last_change=self.stamp))
        return types, relations

    def specifications(self) -> list[ReqIFSpecification]:
        return [self._specification(key, title, root) for key, title, root in trees(self.source, self.selected)]

    def _specification(self, key: str, title: str, root: Node) -> ReqIFSpecification:
        return ReqIFSpecification(identifier=self.ids("SPEC", key), long_name=_clean(title),
                                  last_change=self.stamp, specification_type=self.ids("ST", "specification"),
                                  children=self._hierarchy(key, root, 1, ()) or None)

    def _hierarchy(self, key: str, node: Node, level: int, path: tuple) -> list[ReqIFSpecHierarchy]:
        out = [ReqIFSpecHierarchy(identifier=self.ids("SH", key, need_id), spec_object=self.ids("SO", need_id),
                                  level=level, last_change=self.stamp) for need_id in node.needs]
        for name, child in node.children.items():
            where = (*path, name)
            heading = self.ids("SO", "heading", key, *where)
            self.objects.append(ReqIFSpecObject(
                identifier=heading, spec_object_type=self.ids("SOT", "-heading"), last_change=self.stamp,
                attributes=[SpecObjectAttribute(attribute_type=T.STRING, value=_clean(child.title),
                                                definition_ref=self.ids("AD", "-heading", "ReqIF.ChapterName"))]))
            out.append(ReqIFSpecHierarchy(identifier=self.ids("SH", key, "heading", *where), spec_object=heading,
                                          level=level, last_change=self.stamp,
                                          children=self._hierarchy(key, child, level + 1, where) or None))
        return out


def write(source: NeedsFile, selected: dict[str, dict], path, when: datetime, comment: str,
          markers: dict[str, str] | None = None) -> None:
    writer = ReqIFWriter(source, selected, when, markers)
    writer.object_types()
    writer.spec_objects()
    relation_types, relations = writer.relations()
    specifications = writer.specifications()
    spec_type = ReqIFSpecificationType(identifier=writer.ids("ST", "specification"), long_name="Specification",
                                       last_change=writer.stamp, is_self_closed=True)
    content = ReqIFReqIFContent(
        data_types=writer.data_types, spec_types=[*writer.spec_types, *relation_types, spec_type],
        spec_objects=writer.objects, spec_relations=relations, specifications=specifications)
    header = ReqIFReqIFHeader(
        identifier=writer.ids("HEADER", "export"), creation_time=writer.stamp, comment=_xml(comment),
        req_if_tool_id="kb_export (python reqif library)", req_if_version="1.0",
        source_tool_id=_xml(source.creator),
        # reqif escapes only "&" in the title: angle brackets are left out rather than broken
        title=re.sub(r"[<>]", "", _clean(source.project or "sphinx-needs export")))
    bundle = ReqIFBundle(namespace_info=ReqIFNamespaceInfo.create_default(), req_if_header=header,
                         core_content=ReqIFCoreContent(content), tool_extensions_tag_exists=False,
                         lookup=ReqIFObjectLookup.empty(), exceptions=[])
    path.write_bytes(ReqIFUnparser.unparse(bundle).encode("utf-8"))
