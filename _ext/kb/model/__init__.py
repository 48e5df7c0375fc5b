"""The information model: the one reader of ubproject.toml, and the accessors every other
part of the site asks for what the model declares (tags, the coverage rule, the covering
links, the coverage states, the evidence levels, the crosswalk, the interchange settings, the
fix hints). Nothing else parses the file or writes down a name it declares.

The file is parsed once per content (cached by path, size and modification time), so the
accessors cost nothing in the hot paths of a build, and an edited model is read again. At
``config-inited`` the model's own consistency is checked; a problem stops the build with
one message naming the table to fix."""

from __future__ import annotations

import functools
import os
import re
import tomllib
from pathlib import Path

from kb_export.trace import Trace, chain_links, coverage_states, covering_links
from sphinx.application import Sphinx
from sphinx.errors import ConfigError

FILE = "ubproject.toml"
VERSION = re.compile(r"^(?P<major>[1-9][0-9]*)\.(?P<minor>0|[1-9][0-9]*)$")


class Model:
    """ubproject.toml, read: ``raw`` is the parsed document; the methods answer questions. A
    model is never changed after it is read, so what it derives is computed once."""

    def __init__(self, path: Path, raw: dict) -> None:
        self.path, self.raw = path, raw
        self.needs: dict = raw["needs"]
        self.kb: dict = raw.get("kb", {})

    # ---------------------------------------------------------------- declarations
    @property
    def types(self) -> dict[str, dict]:
        return self.needs["types"]

    @functools.cached_property
    def site_types(self) -> dict[str, dict]:
        """The types this site holds needs of ([kb.site] types), in that order; the model's
        other types are declared for device projects."""
        return {t: self.types[t] for t in self.kb.get("site", {}).get("types", self.types)}

    @property
    def fields(self) -> dict[str, dict]:
        return self.needs.get("fields", {})

    @property
    def links(self) -> dict[str, dict]:
        return self.needs.get("links", {})

    @functools.cached_property
    def derived_fields(self) -> tuple[str, ...]:
        """The fields sphinx-needs derives after reading (a ``derive`` rule: counts, the
        fingerprint), so no need as read has them."""
        return tuple(name for name, field in self.fields.items() if "derive" in field)

    @functools.cached_property
    def fingerprint_field(self) -> str:
        """The field sphinx-needs derives as a digest of the need's own fields."""
        names = [n for n, f in self.fields.items() if f.get("derive", {}).get("kind") == "fingerprint"]
        if len(names) != 1:
            raise ValueError(f"{self.path}: the model needs one field derived as a fingerprint, has {names}")
        return names[0]

    def enum(self, field: str) -> list[str]:
        """The vocabulary of a field (its values, or its items' values)."""
        schema = self.fields[field]["schema"]
        return list(schema.get("enum") or schema.get("items", {}).get("enum") or [])

    @property
    def id_regex(self) -> str:
        return self.needs["id_regex"]

    @property
    def schema_rules(self) -> list[dict]:
        return self.needs.get("schema_definitions", {}).get("schemas", [])

    # ---------------------------------------------------------------- tags
    @property
    def tags(self) -> list[str]:
        return self.enum("tags")

    @functools.cached_property
    def tag_meanings(self) -> dict[str, str]:
        """Tag -> meaning ([kb.tags]), in the order of the vocabulary."""
        return {tag: self.kb["tags"][tag] for tag in self.tags}

    # ---------------------------------------------------------------- coverage
    @property
    def coverage_rule(self) -> dict[str, str]:
        """Phase -> the need type that covers a requirement of that phase ([kb.coverage])."""
        return self.kb.get("coverage", {})

    @functools.cached_property
    def covering_links(self) -> dict[str, str]:
        """Need type -> the link type by which its needs cover (from the count fields)."""
        return covering_links(self.raw)

    @functools.cached_property
    def covering_link_names(self) -> tuple[str, ...]:
        return tuple(self.covering_links.values())

    @functools.cached_property
    def states(self) -> tuple[str, ...]:
        """The coverage states of a requirement, in the model's order."""
        return coverage_states(self.raw)

    @functools.cached_property
    def trace(self) -> Trace:
        """The coverage rule as the exporter takes it."""
        return Trace(self.covering_links, self.states, chain_links(self.raw))

    # ---------------------------------------------------------------- crosswalk
    @property
    def evidence(self) -> dict[str, dict]:
        """Mapping link type -> its evidence level ({"marker", "meaning"}), [kb.evidence]."""
        return self.kb.get("evidence", {})

    @functools.cached_property
    def evidence_markers(self) -> dict[str, str]:
        return {link: decl["marker"] for link, decl in self.evidence.items() if decl.get("marker")}

    @property
    def crosswalk(self) -> dict:
        return self.kb["crosswalk"]

    @functools.cached_property
    def fits(self) -> dict:
        """[kb.crosswalk.fits]: the fit type, its links to the requirement and the clause, its
        fields (level, reason, evidence) and the levels that count as maps to."""
        return dict(self.kb.get("crosswalk", {}).get("fits", {}))

    @property
    def documents(self) -> dict[str, str]:
        """Guideline need ID -> its short name ([kb.documents]), in the order pages list them."""
        return self.kb.get("documents", {})

    # ---------------------------------------------------------------- messages, interchange
    @property
    def fixes(self) -> dict[str, str]:
        return self.kb.get("fix", {})

    @functools.cached_property
    def interchange(self) -> tuple[str, list[str]]:
        """(version, project-relative fields) of [kb.interchange], checked."""
        settings = self.kb.get("interchange", {})
        version = str(settings.get("version", ""))
        if not VERSION.match(version):
            raise ConfigError(f"{FILE} [kb.interchange] version {version!r}: write MAJOR.MINOR, e.g. \"1.0\"")
        relative = list(settings.get("project_relative", []))
        unknown = sorted(set(relative) - set(self.fields))
        if unknown:
            raise ConfigError(f"{FILE} [kb.interchange] project_relative names undeclared fields: {unknown}")
        return version, relative

    @property
    def interchange_dir(self) -> str:
        """Output directory of the interchange: a major version keeps its directory."""
        return f"interchange/v{VERSION.match(self.interchange[0])['major']}"


@functools.cache
def _parse(path: str, size: int, mtime_ns: int) -> Model:
    with open(path, "rb") as f:
        return Model(Path(path), tomllib.load(f))


def model_of(confdir: str | os.PathLike) -> Model:
    """The model of the project in ``confdir`` (parsed again only when the file changed)."""
    path = Path(confdir) / FILE
    stat = path.stat()
    return _parse(str(path), stat.st_size, stat.st_mtime_ns)


def check(app: Sphinx, config) -> None:
    """``config-inited``: the model's tables agree with each other."""
    model = model_of(app.confdir)
    enum, meanings = set(model.tags), set(model.kb.get("tags", {}))
    if enum != meanings:
        raise ConfigError(
            f"{FILE}: the tags of [needs.fields.tags] and [kb.tags] differ: "
            f"without a meaning: {sorted(enum - meanings)}; not in the vocabulary: "
            f"{sorted(meanings - enum)}. Add or remove the tag in both tables."
        )
    unknown = sorted(set(model.kb.get("site", {}).get("types", [])) - set(model.types))
    if unknown:
        raise ConfigError(f"{FILE} [kb.site] types names undeclared need types: {unknown}")
    if not set(model.coverage_rule.values()) <= set(model.types):
        raise ConfigError(f"{FILE} [kb.coverage] names unknown need types: {model.coverage_rule}")
    missing = sorted(set(model.coverage_rule.values()) - set(model.covering_links))
    if missing:
        raise ConfigError(f"{FILE}: no count field derives the covering link of {missing}, "
                          "which [kb.coverage] names")
    if "fits" in model.kb.get("crosswalk", {}):
        fits = model.fits
        problems = [] if fits.get("type") in model.types else [f"type {fits.get('type')!r}"]
        problems += [f"{k} link {fits.get(k)!r}" for k in ("requirement", "clause") if fits.get(k) not in model.links]
        problems += [f"{k} field {fits.get(k)!r}" for k in ("level", "reason", "evidence")
                     if fits.get(k) not in model.fields]
        if not problems:
            problems += [f"level {v!r}" for v in fits.get("maps_to", []) if v not in model.enum(fits["level"])]
        if problems:
            raise ConfigError(f"{FILE} [kb.crosswalk.fits] names what the model does not declare: "
                              + ", ".join(problems))
    model.interchange  # noqa: B018 -- raises ConfigError on a malformed [kb.interchange]


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
