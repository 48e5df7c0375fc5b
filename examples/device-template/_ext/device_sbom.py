"""The device's SBOM and VEX, read from their CycloneDX files at build time.

``.. device-sbom::`` (on the SBOM page) reads the files ``[device.sbom]`` of ubproject.toml
names, checks them against the CycloneDX JSON schema of their ``specVersion`` and reads them
with the CycloneDX Python library, then creates one need per component (type ``component``)
and one per vulnerability (type ``vulnerability``, linked with ``affects`` to its components).
Nothing is written by hand twice: the needs are views of the files, which stay the source of
truth and go into the audit export.

Per component it sets ``eos_days``, the days from the source's date (the commit's, or
SOURCE_DATE_EPOCH, so a build is reproducible) to the end of support, and ``lifecycle_stage``,
the N70 stage that date implies: end-of-support when it has passed, limited-support while only
security fixes or community support are given, support otherwise. A component whose support
ends before the device's own end of support (``[device.sbom] device_end_of_support``) carries
the tag ``legacy-devices``, so the SBOM page lists it among the components to plan for
(N70 5.5).

The VEX states map to the model's vocabulary: not_affected -> not_affected, exploitable ->
affected, resolved -> fixed, in_triage -> under_investigation; CycloneDX's other states
(false_positive, resolved_with_pedigree) are refused with a message, so none is silently
dropped.

A file that is not valid JSON, breaks the schema, or a VEX entry that names no component of
the SBOM stops the build with one line naming the file, the JSON path and the ID."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from datetime import date, datetime, timezone
from pathlib import Path

from cyclonedx.model.bom import Bom
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx_needs.api import add_need

logger = logging.getLogger(__name__)

PROPERTY = "corvane:"  # the namespace of the project's own component properties
VEX_STATE = {"not_affected": "not_affected", "exploitable": "affected", "resolved": "fixed",
             "in_triage": "under_investigation"}
SCHEMAS = {"1.4": SchemaVersion.V1_4, "1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6}


class SbomError(Exception):
    """A problem in an SBOM or VEX file: its path, the JSON path and the ID concerned."""

    def __init__(self, path: Path, json_path: str, problem: str, ident: str = "") -> None:
        super().__init__(f"{path}: {json_path}: {problem}" + (f" ({ident})" if ident else ""))


def settings(app: Sphinx) -> dict:
    path = Path(app.confdir) / (app.config.needs_from_toml or "ubproject.toml")
    with open(path, "rb") as f:
        sbom = tomllib.load(f).get("device", {}).get("sbom", {})
    missing = [k for k in ("sbom", "vex", "id_prefix", "device_end_of_support", "manufacturer") if not sbom.get(k)]
    if missing:
        raise ConfigError(f"{path}: [device.sbom] lacks {', '.join(missing)}")
    return sbom


def as_of(confdir: str) -> date:
    """The source's date: SOURCE_DATE_EPOCH, else the last commit's, else 1980-01-01."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        proc = subprocess.run(["git", "-C", confdir, "log", "-1", "--format=%ct"], capture_output=True, text=True)
        epoch = proc.stdout.strip() if proc.returncode == 0 else ""
    return datetime.fromtimestamp(int(epoch), timezone.utc).date() if epoch else date(1980, 1, 1)


def read(path: Path) -> tuple[dict, Bom]:
    """The file as JSON and as a CycloneDX Bom, checked against the schema of its version."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SbomError(path, "$", f"cannot be read: {e.strerror or e}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise SbomError(path, "$", f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    version = str(document.get("specVersion", "")) if isinstance(document, dict) else ""
    if version not in SCHEMAS or not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise SbomError(path, "$", f"not a CycloneDX document of version {', '.join(SCHEMAS)}")
    error = JsonStrictValidator(SCHEMAS[version]).validate_str(text)
    if error is not None:
        detail = error.data
        where = getattr(detail, "json_path", "$")
        raise SbomError(path, where, f"does not follow the CycloneDX {version} schema: "
                        f"{getattr(detail, 'message', str(detail))}")
    return document, Bom.from_json(document)  # type: ignore[attr-defined]


def need_id(prefix: str, ref: str) -> str:
    return prefix + re.sub(r"[^A-Z0-9]+", "_", ref.upper()).strip("_")


def properties(component) -> dict[str, str]:
    return {p.name.removeprefix(PROPERTY): p.value for p in component.properties if p.name.startswith(PROPERTY)}


def stage(support_level: str, days: int) -> str:
    if days < 0:
        return "end-of-support"
    return "limited-support" if support_level in ("security-fixes-only", "community") else "support"


class SbomDirective(SphinxDirective):
    """``.. device-sbom::`` the components and vulnerabilities of the device's SBOM and VEX."""

    def run(self) -> list[nodes.Node]:
        config = settings(self.env.app)
        root = Path(self.env.app.confdir)
        sbom_path, vex_path = root / config["sbom"], root / config["vex"]
        for path in (sbom_path, vex_path):
            self.env.note_dependency(str(path))
        try:
            return self.needs(config, sbom_path, vex_path)
        except SbomError as e:
            logger.warning(str(e), location=self.get_location())
            return []

    def needs(self, config: dict, sbom_path: Path, vex_path: Path) -> list[nodes.Node]:
        prefix = config["id_prefix"]
        device_eos = date.fromisoformat(config["device_end_of_support"])
        today = as_of(str(self.env.app.confdir))
        document, bom = read(sbom_path)
        vex_document, vex = read(vex_path)
        out: list[nodes.Node] = []
        refs: dict[str, str] = {}
        raw_components = {c.get("bom-ref"): i for i, c in enumerate(document.get("components", []))}
        for component in sorted(bom.components, key=lambda c: str(c.bom_ref)):
            ref = str(component.bom_ref)
            where = f"$.components[{raw_components.get(ref, '?')}]"
            props = properties(component)
            for key in ("support-level", "end-of-support", "support-basis"):
                if not props.get(key):
                    raise SbomError(sbom_path, where + ".properties", f"has no property {PROPERTY}{key}", ref)
            try:
                eos = date.fromisoformat(props["end-of-support"])
            except ValueError:
                raise SbomError(sbom_path, where + ".properties", f"{PROPERTY}end-of-support "
                                f"{props['end-of-support']!r} is not a date YYYY-MM-DD", ref) from None
            days = (eos - today).days
            refs[ref] = need_id(prefix + "SC_", ref)
            supplier = component.supplier.name if component.supplier and component.supplier.name else None
            tags = ["cybersecurity", "sbom"] + (["third-party-components"] if supplier != config.get("manufacturer") else [])
            if eos < device_eos:
                tags.append("legacy-devices")
            out += add_need(
                self.env.app, self.state, self.env.docname, self.lineno, "component",
                f"{component.name} {component.version}", id=refs[ref],
                content=component.description or f"Component {component.name} of the {props.get('deliverable', 'device')}.",
                tags=tags, version=str(component.version), supplier=supplier,
                purl=str(component.purl) if component.purl else None,
                support_level=props["support-level"], eos_date=eos.isoformat(), eos_days=days,
                support_basis=props["support-basis"], lifecycle_stage=[stage(props["support-level"], days)])
        for index, vulnerability in enumerate(sorted(vex.vulnerabilities, key=lambda v: str(v.id))):
            raw_index = next((i for i, v in enumerate(vex_document.get("vulnerabilities", []))
                              if v.get("id") == vulnerability.id), index)
            where = f"$.vulnerabilities[{raw_index}]"
            affected = []
            for n, target in enumerate(vulnerability.affects):
                ref = str(target.ref).rsplit("#", 1)[-1]  # a BOM-Link names the component after '#'
                if ref not in refs:
                    raise SbomError(vex_path, f"{where}.affects[{n}].ref",
                                    f"names {ref!r}, which is no component of {config['sbom']}", str(vulnerability.id))
                affected.append(refs[ref])
            analysis = vulnerability.analysis
            if analysis is None or analysis.state is None:
                raise SbomError(vex_path, f"{where}.analysis.state", "has no VEX state", str(vulnerability.id))
            state = VEX_STATE.get(analysis.state.value)
            if state is None:
                raise SbomError(vex_path, f"{where}.analysis.state", f"{analysis.state.value!r} is a CycloneDX state "
                                f"this project does not map; use one of {', '.join(VEX_STATE)}", str(vulnerability.id))
            justification = analysis.justification.value if analysis.justification else None
            if state == "not_affected" and not justification:
                raise SbomError(vex_path, f"{where}.analysis.justification",
                                "not_affected needs a justification", str(vulnerability.id))
            updated = vulnerability.updated or vulnerability.published
            detail = " ".join(str(analysis.detail or "").split())
            content = " ".join(str(vulnerability.description or "").split())
            out += add_need(
                self.env.app, self.state, self.env.docname, self.lineno, "vulnerability",
                f"{vulnerability.id}: {state.replace('_', ' ')}", id=need_id(prefix + "VX_", str(vulnerability.id)),
                content=(content + ("\n\n**Assessment:** " + detail if detail else "")) or str(vulnerability.id),
                tags=["cybersecurity", "sbom", "vulnerability-remediation"], vuln_id=str(vulnerability.id),
                vex_status=state, vex_justification=justification,
                vex_date=updated.date().isoformat() if updated else None, affects=affected)
        return out


def setup(app: Sphinx) -> dict:
    app.add_directive("device-sbom", SbomDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
