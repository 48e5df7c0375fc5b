"""Filter functions for the generated views of the LV-7's security file.

A needflow or needtable on the threat-model and architecture pages selects its needs with
``:filter-func: device_views.<function>(<arguments>)``; sphinx-needs calls the function with
all needs (``needs``) and a list to fill (``results``), the arguments as ``arg1``, ``arg2``...
Each function follows the security file's chain of links, as the knowledge base's model
declares it: a threat ``targets`` assets and interfaces, a security risk ``assesses`` threats,
a design control ``mitigates`` security risks. The views are computed from the needs, so a
threat, risk or control added anywhere appears in every view it belongs to.

A need is selected from its links alone; the selection is the same on every build. The
root walk of needflow (``:root_id:``) is not used for these views: it visits needs depth
first, so its ``:root_depth:`` can drop a need that is one link from the root.
"""

from __future__ import annotations

from collections.abc import Iterable

TARGETS, ASSESSES, MITIGATES = "targets", "assesses", "mitigates"


def _ids(arguments: dict[str, str]) -> set[str]:
    """The need IDs given as arguments (arg1, arg2, ...), without surrounding spaces."""
    return {value.strip() for value in arguments.values() if value.strip()}


def _own(needs: Iterable[dict]) -> list[dict]:
    return [n for n in needs if not n["is_external"]]


def _select(needs: list[dict], results: list, wanted: set[str]) -> None:
    results.extend(n for n in needs if n["id"] in wanted)


def threats_through(needs, results, **interfaces: str) -> None:
    """The interfaces named, the threats that target them, and whatever else those threats
    target (the assets they act on)."""
    own = _own(needs)
    start = _ids(interfaces)
    threats = [n for n in own if n["type"] == "threat" and start & set(n[TARGETS])]
    wanted = start | {t["id"] for t in threats} | {i for t in threats for i in t[TARGETS]}
    _select(own, results, wanted)


def risk_chain(needs, results, **interfaces: str) -> None:
    """The interfaces named, the threats that target them, the security risks that assess
    those threats and the design controls that mitigate those risks."""
    own = _own(needs)
    start = _ids(interfaces)
    threats = {n["id"] for n in own if n["type"] == "threat" and start & set(n[TARGETS])}
    risks = [n for n in own if n["type"] == "risk" and threats & set(n[ASSESSES])]
    controls = {n["id"] for n in own if n["type"] == "design" and {r["id"] for r in risks} & set(n[MITIGATES])}
    _select(own, results, start | threats | {r["id"] for r in risks} | controls)


def risks_where(needs, results, arg1: str, arg2: str) -> None:
    """The security risks whose field ``arg1`` has the value ``arg2``, the threats they
    assess and the design controls that mitigate them."""
    own = _own(needs)
    risks = [n for n in own if n["type"] == "risk" and str(n.get(arg1.strip())) == arg2.strip()]
    ids = {r["id"] for r in risks}
    threats = {t for r in risks for t in r[ASSESSES]}
    controls = {n["id"] for n in own if n["type"] == "design" and ids & set(n[MITIGATES])}
    _select(own, results, ids | threats | controls)
