"""Schema validation of the needs that changed, with the findings of the others kept.

sphinx-needs validates every need against the schemas of ubproject.toml at the start of every
write (``process_schemas``): on the site, 1,768 needs, about 0.85 s of every build, even one
that re-reads a single page. Every rule of the site is ``validate.local``: what a need's check
finds depends on the need's own fields and on the schemas, nothing else. So this part
validates only the needs whose fields changed since the last build, and takes the findings of
the others from the last build: each need keeps, in a file beside the doctrees (``STORE``), a
fingerprint of its fields and the findings of each stage (the fields and links check, then
each schema in order), formatted as sphinx-needs formats them.

The findings of an unchanged need are reported again, in the same words, with the same
severity, in the same order, and schema_violations.json has the same entries: a build that
failed on a schema rule fails again when nothing has changed. Everything is validated again
when the schemas or the fields' declarations change, when a schema checks linked needs
(``validate.network``: then a need's findings depend on other needs), when the schema debug
output is on, and when the file is missing (a new doctree directory). ``kb_validate_all = 1``
validates every need on every build (compat checks that ``process_schemas``, which this
reproduces, is unchanged)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from sphinx.application import Sphinx
from sphinx.builders import Builder
from sphinx.util import logging
from sphinx_needs import __version__ as sphinx_needs_version
from sphinx_needs.api import get_needs_view
from sphinx_needs.config import NeedsSphinxConfig
from sphinx_needs.logging import log_error, log_warning
from sphinx_needs.needsfile import generate_needs_schema
from sphinx_needs.schema import process as needs_schema_process
from sphinx_needs.schema.core import validate_field_link_schemas, validate_type_schema
from sphinx_needs.schema.reporting import get_formatted_warnings, get_json_formatted_warnings

from .. import compat
from . import unchanged

logger = logging.getLogger(__name__)
# sphinx-needs' own logger name, so that the summary line reads as it always has
needs_logger = logging.getLogger(needs_schema_process.__name__)

#: The file, in the doctree directory, that keeps the findings between builds (Sphinx saves
#: the environment before the write starts, so the environment cannot keep them). Its
#: entries are keyed by content (the schemas, the need's fields), so a file left by another
#: environment is as good as its own.
STORE = "kb-schema-findings.json"


class Findings(NamedTuple):
    """What the checks found on one need: its fingerprint, and per stage (0 the fields and
    links check, then each schema in order) the console messages and the report entries."""

    fingerprint: str
    stages: tuple[tuple[int, tuple[dict, ...], tuple[dict, ...]], ...]


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _need_fingerprint(need: Mapping[str, Any]) -> str:
    return _digest(dict(need.items()))


def _checks_linked_needs(type_schemas: list) -> bool:
    return any("network" in schema["validate"] or "network_back" in schema["validate"]
               for schema in type_schemas)


def _read_store(path: Path, schemas_key: str) -> dict[str, Findings]:
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(kept, dict) or kept.get("schemas") != schemas_key:
        return {}
    return {need_id: Findings(fingerprint, tuple((stage, tuple(messages), tuple(entries))
                                                  for stage, messages, entries in stages))
            for need_id, (fingerprint, stages) in kept["needs"].items()}


def _write_store(path: Path, schemas_key: str, findings: dict[str, Findings]) -> None:
    partial = path.with_suffix(".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text(json.dumps({"schemas": schemas_key, "needs": findings}, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)


def _validate(config: NeedsSphinxConfig, needs_schema, type_schemas: list, field_properties,
              needs) -> dict[str, list[tuple[int, list]]]:
    """The raw findings on ``needs``, by need and stage, as process_schemas computes them."""
    found: dict[str, list[tuple[int, list]]] = {}
    for need_id, warnings in validate_field_link_schemas(config, needs_schema, needs).items():
        found.setdefault(need_id, []).append((0, warnings))
    # each need's findings are its own: which other needs a stage looks at changes nothing
    # (not filter_types: its index of every need costs more than an edit validates)
    by_type: dict[str, list[str]] = {}
    for need_id, need in needs.items():
        by_type.setdefault(need["type"], []).append(need_id)
    for stage, type_schema in enumerate(type_schemas, start=1):
        types = types_selected(type_schema)
        candidates = needs if types is None else needs.filter_ids(
            [need_id for t in sorted(types) for need_id in by_type.get(t, ())])
        for need_id, warnings in validate_type_schema(config, type_schema, candidates, field_properties,
                                                      fields_schema=needs_schema).items():
            found.setdefault(need_id, []).append((stage, warnings))
    return found


def types_selected(type_schema: Mapping[str, Any]) -> frozenset[str] | None:
    """The need types a schema's ``select`` can match, where it names them plainly
    (``properties.type`` a string ``const`` or ``enum``); None: it may match any type.

    Every keyword of a JSON schema must hold and the need's ``type`` is always in what select
    sees, so a need whose type fails ``properties.type`` fails the select whatever else it
    says: on the site each schema's select then looks at the needs of its types, not at all of
    them (the select was most of the validation: 16 schemas times every need)."""
    select = type_schema.get("select")
    spec = select.get("properties", {}).get("type") if isinstance(select, Mapping) else None
    if not isinstance(spec, Mapping) or not set(spec) <= {"type", "const", "enum"} or spec.get("type") != "string":
        return None
    allowed: set | None = None
    if "const" in spec:
        allowed = {spec["const"]}
    if "enum" in spec:
        allowed = set(spec["enum"]) if allowed is None else allowed & set(spec["enum"])
    return None if allowed is None else frozenset(t for t in allowed if isinstance(t, str))


def _formatted(need_id: str, stages: list[tuple[int, list]]) -> tuple:
    return tuple((stage, tuple(get_formatted_warnings({need_id: warnings})),
                  tuple(get_json_formatted_warnings({need_id: warnings}).get(need_id, ())))
                 for stage, warnings in stages)


def validate_changed_needs(app: Sphinx, builder: Builder) -> None:
    """``write-started``, in place of sphinx-needs' ``process_schemas``."""
    config = NeedsSphinxConfig(app.config)
    if not config.schema_validation_enabled or unchanged.settled(app):
        return  # settled: no need changed, and the last build had no finding
    needs_schema, type_schemas = compat.needs_schemas(app.env)
    if (not app.config.kb_validate_all and not config.schema_debug_active
            and not _checks_linked_needs(type_schemas)):
        report_known_findings(app, config, needs_schema, type_schemas)
    else:
        (Path(app.doctreedir) / STORE).unlink(missing_ok=True)
        needs_schema_process.process_schemas(app, builder)


def report_known_findings(app: Sphinx, config: NeedsSphinxConfig, needs_schema, type_schemas: list) -> None:
    start = time.perf_counter()
    needs = get_needs_view(app)
    field_properties = generate_needs_schema(needs_schema)["properties"]
    # the fields' declarations (per need type too) are configuration: every needs_* value
    schemas_key = _digest([type_schemas, field_properties, sphinx_needs_version,
                           sorted((option.name, option.value) for option in app.config
                                  if option.name.startswith("needs_"))])
    store = Path(app.doctreedir) / STORE
    known = _read_store(store, schemas_key)

    fingerprints = {need_id: _need_fingerprint(need) for need_id, need in needs.items()}
    changed = [need_id for need_id, fingerprint in fingerprints.items()
               if need_id not in known or known[need_id].fingerprint != fingerprint]
    found = _validate(config, needs_schema, type_schemas, field_properties, needs.filter_ids(changed)) if changed else {}
    revalidated = set(changed)
    findings = {need_id: (Findings(fingerprints[need_id], _formatted(need_id, found.get(need_id, [])))
                          if need_id in revalidated else known[need_id])
                for need_id in fingerprints}
    _write_store(store, schemas_key, findings)
    duration = time.perf_counter() - start

    # sphinx-needs orders its findings by need, the needs in the order a stage first found
    # something on them (stage by stage, each in the order of the needs), each need's findings
    # by stage
    first_stage = {need_id: entry.stages[0][0] for need_id, entry in findings.items() if entry.stages}
    order = sorted(first_stage, key=lambda need_id: first_stage[need_id])  # stable: needs' order
    messages = [message for need_id in order for _, stage_messages, _ in findings[need_id].stages
                for message in stage_messages]
    report = {need_id: [entry for _, _, stage_entries in findings[need_id].stages for entry in stage_entries]
              for need_id in order}
    for message in messages:
        log = log_warning if message["log_lvl"] == "warning" else log_error
        log(logger, message["message"], message["subtype"], None, type=message["type"])
    rate = round(len(needs) / duration) if duration > 0 else float("inf")
    write_report(app.outdir / "schema_violations.json", duration, rate, len(needs),
                 {need_id: entries for need_id, entries in report.items() if entries})
    needs_logger.info(f"Schema validation completed with {len(messages)} warning(s) in {duration:.3f} seconds. "
                      f"Validated {rate} needs/s ({len(changed)} changed, the others' findings kept).")


def write_report(path: Path, duration: float, rate: float, count: int, entries: dict[str, list[dict]]) -> None:
    """schema_violations.json as sphinx-needs' generate_json_schema_validation_report writes
    it (compat checks its source), from findings already formatted."""
    report = {
        "validation_summary": (f"Schema validation completed with {len(entries)} warning(s) in {duration:.3f} seconds. "
                               f"Validated {rate} needs/s."),
        "validated_needs_per_second": rate,
        "validated_needs_count": count,
        "validation_warnings": entries,
    }
    with path.open("w") as report_file:
        json.dump(report, report_file, indent=2)


def setup(app: Sphinx) -> dict:
    app.add_config_value("kb_validate_all", False, "", types=(bool, int))
    compat.replace_listener(app, "write-started", needs_schema_process.process_schemas, validate_changed_needs)
    return {"env_version": 1, "parallel_read_safe": True, "parallel_write_safe": True}
