"""A build that changed nothing does no work on the needs.

sphinx-needs resolves every need at the start of every write (``ensure_post_process_needs_data``:
dynamic and derived fields, back links, constraints, so that its warnings come again), and
writes needs.json at the end; the site then validates the needs against its schemas, writes
browse's data, the interchange, and forks the export worker. After a build that read no
document all of that gives what the last build gave, and on the real site it was more than half
of such a build.

So at ``env-updated`` (after kb.build.rebuild has compared the needs as read) this part decides
whether the build is *settled*: an HTML build that read no document, whose key equals the one
kept by the last build, which ended without an exception or a single warning, and whose
outputs are still the bytes that build left. The key covers what the needs and those files are
made of: the needs as read (kb.build.rebuild's digest of each) and the files and needextends
it reads, the whole configuration, the builder and its output directory, the site's code, and
the versions of Python, Sphinx and sphinx-needs. Then the eager resolution, the validation,
browse's data, needs.json, the interchange and the export worker are skipped (``settled``);
whatever still asks for the needs (a page Sphinx writes for another reason) gets them resolved
as always, and the export still checks its own key.

A build that warned is never settled: the next one does all the work again and warns again,
as sphinx-needs intends (and as kb.build.validation does for its findings).

At ``build-finished``, last but for sphinx-needs' release of its lock, the key, whether the
build was clean and the SHA-256 of each output are kept beside the doctrees (``STORE``: Sphinx
saves the environment before the write starts, so the environment cannot keep them)."""

from __future__ import annotations

import hashlib
import json
import platform
import re
from pathlib import Path

import sphinx
import sphinx_needs
from kb_export.bundle import sha256_file
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx_needs.builder import build_needs_json
from sphinx_needs.config import NeedsSphinxConfig
from sphinx_needs.needs import ensure_post_process_needs_data

from .. import compat
from ..model import model_of

logger = logging.getLogger(__name__)

#: The file, in the doctree directory, that keeps the last build's key, whether it was clean,
#: and the digests of its outputs.
STORE = "kb-last-build.json"
#: The site's code: every module of the packages beside this one (kb, kb_export, kb_shared).
CODE = Path(__file__).resolve().parents[2]


def settled(app: Sphinx) -> bool:
    """Whether this build changed nothing the needs are made of (decided at env-updated)."""
    return getattr(app, "kb_settled", False)


def _plain(value: object) -> object:
    """A configuration value as JSON can hold it (json.dumps calls this for what it cannot
    encode itself; tuples it writes as lists), the same in every process: sets sorted,
    functions and classes by name, other objects by their repr without an address."""
    if isinstance(value, (set, frozenset)):
        return sorted(map(repr, value))
    if callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__qualname__)}"
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


def _code_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(CODE.rglob("*.py")):
        h.update(path.relative_to(CODE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _key(app: Sphinx, env: BuildEnvironment) -> str | None:
    state = getattr(env, "kb_needs_state", None)
    if state is None:
        return None
    h = hashlib.sha256()
    h.update(json.dumps([state["inputs"], app.builder.name, str(app.outdir), _code_digest(),
                         platform.python_version(), sphinx.__version__, sphinx_needs.__version__]).encode())
    for option in sorted(app.config, key=lambda option: option.name):
        try:
            value = json.dumps(option.value, default=_plain, sort_keys=True)
        except (TypeError, ValueError):  # keys JSON cannot hold
            value = str(_plain(option.value))
        h.update(f"{option.name}\0{value}\n".encode())
    for need_id in sorted(state["needs"]):
        need = state["needs"][need_id]
        h.update(f"{need_id}\0{need['doc']}\0{need['digest']}\n".encode())
    return h.hexdigest()


def outputs(app: Sphinx) -> list[str]:
    """The files the skipped steps write, relative to the output directory."""
    from ..views.browse import DATA_FILE  # the views import this module

    config = NeedsSphinxConfig(app.config)
    files = [f"_static/{DATA_FILE}"]
    if config.build_json:
        files.append("needs.json")
    if config.schema_validation_enabled:
        files.append("schema_violations.json")
    where = model_of(app.confdir).interchange_dir
    files += [f"{where}/{name}" for name in ("needs.json", "ubproject.toml", "SHA256SUMS")]
    return files


def _digests(app: Sphinx) -> dict[str, str]:
    out = Path(app.outdir)
    return {name: sha256_file(out / name) for name in outputs(app) if (out / name).is_file()}


def _last(app: Sphinx) -> dict:
    try:
        return json.loads((Path(app.doctreedir) / STORE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def note_documents_read(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    app.kb_documents_read = len(docnames)


def documents_read(app: Sphinx) -> int:
    """How many documents this build has read (0 before it reads)."""
    return getattr(app, "kb_documents_read", 0)


def decide(app: Sphinx, env: BuildEnvironment) -> None:
    """``env-updated``, after kb.build.rebuild: whether this build is settled."""
    app.kb_key = key = _key(app, env) if app.builder.format == "html" else None
    last = _last(app)
    app.kb_settled = bool(
        key is not None and getattr(app, "kb_documents_read", None) == 0
        and getattr(app, "kb_release", None) is None  # the release report reads git, not only the needs
        and last.get("key") == key and last.get("clean") is True
        and set(last.get("outputs", ())) == set(outputs(app)) and last["outputs"] == _digests(app))
    if app.kb_settled:
        logger.info("kb.build.unchanged: no document read and nothing the needs are made of changed "
                    "since the last build, which ended clean: needs.json, the interchange, browse's "
                    "data and the schema findings are as it left them", color="darkgreen")


def unless_settled(handler):
    """sphinx-needs' handler, skipped in a settled build."""
    def handle(app: Sphinx, *args) -> None:
        if not settled(app):
            handler(app, *args)
    handle.__name__ = handle.__qualname__ = f"unless_settled({handler.__name__})"
    return handle


def record(app: Sphinx, exception: Exception | None) -> None:
    """``build-finished``: keep this build's key, whether it was clean, and its outputs."""
    store = Path(app.doctreedir) / STORE
    key = getattr(app, "kb_key", None)
    if key is None:
        store.unlink(missing_ok=True)
        return
    clean = exception is None and compat.warning_count(app) == 0
    if settled(app) and clean:
        return  # the stored record holds: the same key, and the outputs decide() found as it left them
    store.write_text(json.dumps({"key": key, "clean": clean, "outputs": _digests(app)},
                                indent=1, sort_keys=True), encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("env-before-read-docs", note_documents_read)
    app.connect("env-updated", decide, priority=900)
    compat.replace_listener(app, "write-started", ensure_post_process_needs_data,
                            unless_settled(ensure_post_process_needs_data))
    compat.replace_listener(app, "build-finished", build_needs_json, unless_settled(build_needs_json))
    # last but sphinx-needs' release of its lock (9999): every warning of the build is counted
    app.connect("build-finished", record, priority=9990)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
