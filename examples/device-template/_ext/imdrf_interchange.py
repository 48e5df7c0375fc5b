"""Import the IMDRF knowledge base through its published interchange.

The knowledge base publishes two files per interchange version (``interchange/v1/``):
``needs.json`` and ``ubproject.toml``, the model needed to read it. sphinx-needs refuses,
with a warning, a need whose type, field or link type the importing project has not
declared, so this project must declare the knowledge base's whole model. Copying it by
hand would drift from the source with every release; instead this extension reads the
published model and adds it to this project's own ubproject.toml, which sphinx-needs has
just read:

- a name only the knowledge base declares is taken as published;
- a name both declare is merged table by table: this project may add keys (a further
  per-type rule, say) but not change a published value, which would make the imported
  needs fail this project's checks or mean something else here. A conflict stops the
  build naming the key and both files.

It then registers the interchange's needs.json as an external source
(``needs_external_needs``), whose needs link to the knowledge base's pages, and keeps only
the need types of ``imdrf_import_types``. The knowledge base's own design controls, tests
and post-market activities are its examples; this device brings its own, so by default they
are dropped as soon as they are loaded, and every covering link in this project is the
device's own.

Configuration (conf.py): ``imdrf_interchange`` (directory of the two files, relative to
conf.py), ``imdrf_base_url`` (where the knowledge base's pages are), ``imdrf_import_types``.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx_needs.data import SphinxNeedsData

SUPPORTED_MAJOR = "1"  # the interchange major version this project's extensions understand
MODEL_TABLES = ("types", "links", "fields")


def interchange_dir(app: Sphinx) -> Path:
    return (Path(app.confdir) / app.config.imdrf_interchange).resolve()


def load_interchange(app: Sphinx) -> dict:
    """The published model, checked against its needs.json; read once per build."""
    cached = getattr(app, "_imdrf_interchange", None)
    if cached is not None:
        return cached
    where = interchange_dir(app)
    model_path, needs_path = where / "ubproject.toml", where / "needs.json"
    for path in (model_path, needs_path):
        if not path.is_file():
            raise ConfigError(
                f"imdrf_interchange: {path} does not exist. Build the knowledge base first "
                f"(make html in its repository), or set imdrf_interchange in conf.py to the "
                f"directory holding its published needs.json and ubproject.toml")
    try:
        model = tomllib.loads(model_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"imdrf_interchange: {model_path} is not a readable TOML file: {e}") from None
    meta = model.get("interchange", {})
    version = str(meta.get("version", ""))
    if version.split(".")[0] != SUPPORTED_MAJOR:
        raise ConfigError(
            f"imdrf_interchange: {model_path} is interchange version {version or '(none)'}; this "
            f"project reads version {SUPPORTED_MAJOR}.x. Point imdrf_interchange at the "
            f"interchange/v{SUPPORTED_MAJOR}/ directory, or follow the knowledge base's CHANGELOG "
            f"to move to the new version")
    digest = hashlib.sha256(needs_path.read_bytes()).hexdigest()
    if digest != meta.get("needs_json_sha256"):
        raise ConfigError(
            f"imdrf_interchange: {needs_path} is not the needs.json {model_path.name} was published "
            f"with (sha256 {digest[:12]}..., expected {str(meta.get('needs_json_sha256'))[:12]}...). "
            f"Take both files from the same release")
    model["_paths"] = {"model": model_path, "needs": needs_path}
    app._imdrf_interchange = model
    return model


def merge(published: dict, own: dict, path: str, own_file: Path, published_file: Path) -> dict:
    """``own`` added to ``published``: new keys are taken, equal values kept, and a value
    this project changes is refused."""
    merged = dict(published)
    for key, value in own.items():
        where = f"{path}.{key}"
        if key not in published:
            merged[key] = value
        elif isinstance(value, dict) and isinstance(published[key], dict):
            merged[key] = merge(published[key], value, where, own_file, published_file)
        elif value != published[key]:
            raise ConfigError(
                f"{own_file}: [{path}] {key} = {value!r} changes what the IMDRF knowledge base "
                f"publishes in {published_file} ({published[key]!r}). This project may add to the "
                f"published model, not change it: remove the key, or declare a name of your own")
    return merged


def add_published_model(app: Sphinx, config: Config) -> None:
    """Runs after sphinx-needs has read ubproject.toml (config-inited, priority 10) and
    before it resolves the need types (priority 12)."""
    model = load_interchange(app)
    own_file = Path(app.confdir) / (config.needs_from_toml or "conf.py")
    for table in MODEL_TABLES:
        published = model.get("needs", {}).get(table, {})
        own = getattr(config, f"needs_{table}") or {}
        if not isinstance(own, dict):
            raise ConfigError(f"imdrf_interchange: needs_{table} must be a table (a dict) to be merged "
                              f"with the published model; declare it in ubproject.toml")
        config[f"needs_{table}"] = merge(published, own, f"needs.{table}", own_file, model["_paths"]["model"])
    source = {"json_path": str(model["_paths"]["needs"]), "base_url": config.imdrf_base_url}
    config["needs_external_needs"] = [*config.needs_external_needs, source]


def keep_import_types(app: Sphinx, env, docnames) -> None:
    """Drop the external needs of the types not imported, right after sphinx-needs has
    loaded them and before any page is read, so that no page and no back link of this
    project can refer to them."""
    keep = set(app.config.imdrf_import_types)
    data = SphinxNeedsData(env)
    needs = data.get_needs_mutable()
    for need_id in [i for i, n in needs.items() if n["is_external"] and n["type"] not in keep]:
        data.remove_need(need_id)


def setup(app: Sphinx) -> dict:
    app.add_config_value("imdrf_interchange", "", "env", types=[str])
    app.add_config_value("imdrf_base_url", "", "env", types=[str])
    # clauses too: the requirements link to them (crosswalk mappings), and a device file can
    # show the frameworks each requirement maps to
    app.add_config_value("imdrf_import_types", ["guideline", "req", "standard", "clause"], "env", types=[list])
    app.connect("config-inited", add_published_model, priority=11)
    # after sphinx-needs' load_external_needs (env-before-read-docs, priority 500)
    app.connect("env-before-read-docs", keep_import_types, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
