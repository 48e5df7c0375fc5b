"""What covers a requirement, read from a model file rather than written into the exporter.

A needs.json holds the links but not the rule that makes some of them *covering* links (a
design control covers a requirement through one link type, a test through another) nor the
list of coverage states. Both are declared in the model a project builds with:

* a project's own ``ubproject.toml``: a count field derives, for a need type, the back links
  of the link type by which needs of that type cover (``derive = { kind = "count", over =
  "<link>_back", where = "type == '<type>'" }``), and the ``coverage`` field's vocabulary
  lists the states;
* the knowledge base's published interchange model (``interchange/v<N>/ubproject.toml``),
  which states the covering links in ``[interchange] covering_links`` and carries the same
  ``coverage`` field.

The site passes the rule its model accessor read; the command line reads ``--model``. A
model that declares neither leaves the covering columns of the exports empty."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .needs import ExportError

COUNT_WHERE = re.compile(r"type == '([^']+)'")


@dataclass(frozen=True)
class Trace:
    #: need type -> the link type by which a need of that type covers a requirement
    covering: dict[str, str] = field(default_factory=dict)
    #: the coverage states of a requirement, in the model's order
    states: tuple[str, ...] = ()
    #: the links of a device's security file chain: type -> the link that points to it from
    #: the next step (threat <- assesses <- risk <- mitigates <- design control)
    chain: dict[str, str] = field(default_factory=dict)

    def covering_of(self, need: dict, kind: str, needs: dict) -> list[str]:
        """IDs of the needs of type ``kind`` that cover ``need``."""
        return linked_from(need, self.covering.get(kind), kind, needs)


def linked_from(need: dict, link: str | None, kind: str, needs: dict) -> list[str]:
    """IDs of the needs of type ``kind`` that link to ``need`` with ``link`` (none without a
    link), in the order of its back links."""
    if not link:
        return []
    return [i for i in need.get(f"{link}_back") or [] if i in needs and needs[i]["type"] == kind]


def covering_links(model: dict) -> dict[str, str]:
    """Need type -> covering link type, from the derive rules of the count fields, in the
    order the fields are declared; only the types that cover a requirement ([kb.coverage]
    names them, where the model has it: other counts, such as the security risks that rate a
    vulnerability, are not coverage)."""
    covering_types = set(model.get("kb", {}).get("coverage", {}).values())
    out = {}
    for decl in model.get("needs", {}).get("fields", {}).values():
        derive = decl.get("derive") or {}
        kind = COUNT_WHERE.fullmatch(str(derive.get("where", "")).strip())
        if derive.get("kind") == "count" and str(derive.get("over", "")).endswith("_back") and kind \
                and (not covering_types or kind[1] in covering_types):
            out[kind[1]] = derive["over"].removesuffix("_back")
    return out


def coverage_states(model: dict) -> tuple[str, ...]:
    schema = model.get("needs", {}).get("fields", {}).get("coverage", {}).get("schema", {})
    return tuple(schema.get("enum") or ())


CHAIN_TYPES = ("threat", "risk")  # the types a link of the security file's chain points to


def chain_links(model: dict) -> dict[str, str]:
    """Type -> the link type whose only target type it is, for the chain's types."""
    out = {}
    for name, decl in model.get("needs", {}).get("links", {}).items():
        targets = decl.get("target_types") or []
        if len(targets) == 1 and targets[0] in CHAIN_TYPES:
            out[targets[0]] = name
    return out


def from_model(model: dict) -> Trace:
    declared = model.get("interchange", {}).get("covering_links")
    return Trace(dict(declared) if declared else covering_links(model), coverage_states(model), chain_links(model))


def read(path: str | Path) -> Trace:
    """The rule of a model file; a file that cannot be read or parsed is one error line."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            model = tomllib.load(f)
    except OSError as e:
        raise ExportError(f"{path}: cannot read the model: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ExportError(f"{path}: not valid TOML: {e}") from None
    return from_model(model)
