"""kb.compat is the only module that reaches into the internals of Sphinx, sphinx-needs and furo,
and it checks each of them when the build starts."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from conftest import ROOT

from kb import compat

#: Python files of this project that run with Sphinx: the site's package, the exporter, the
#: shared helpers, the device template's extensions, the configurations and the tools.
SOURCES = sorted({*ROOT.glob("_ext/**/*.py"), *ROOT.glob("examples/*/_ext/*.py"), ROOT / "conf.py",
                  *ROOT.glob("examples/*/conf.py"), *(ROOT / "tools" / name for name in ("bench.py", "review-links", "serve"))})
COMPAT = ROOT / "_ext" / "kb" / "compat.py"
PACKAGES = ("sphinx", "sphinx_needs", "furo")
#: Python's own documented functions whose names begin with an underscore (module, name)
DOCUMENTED = {("os", "_exit")}


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def own_private_names(trees: list[ast.AST]) -> set[str]:
    """Underscore names this project defines itself (its own helpers and attributes)."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return {n for n in names if private(n)}


def internals_used(tree: ast.AST, own: set[str]) -> list[str]:
    """Where a module imports a private module or name of Sphinx, sphinx-needs or furo, or reads an
    underscore attribute (directly or with getattr/hasattr/setattr) that is not its own."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                parts = module.split(".")
                if parts[0] in PACKAGES and any(private(p) for p in parts):
                    found.append(f"line {node.lineno}: import of {module}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
                found += [f"line {node.lineno}: import of {node.module}.{a.name}" for a in node.names if private(a.name)]
        elif (isinstance(node, ast.Attribute) and private(node.attr) and node.attr not in own
              and not (isinstance(node.value, ast.Name) and (node.value.id, node.attr) in DOCUMENTED)):
            found.append(f"line {node.lineno}: attribute {node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr") and len(node.args) > 1
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and private(node.args[1].value) and node.args[1].value not in own):
            found.append(f"line {node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    return found


def test_no_module_but_compat_touches_sphinx_internals():
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in SOURCES}
    own = own_private_names([t for p, t in trees.items() if p != COMPAT])
    offenders = {str(p.relative_to(ROOT)): used for p, t in trees.items() if p != COMPAT
                 if (used := internals_used(t, own))}
    assert not offenders, f"private Sphinx/sphinx-needs/furo APIs outside kb/compat.py: {offenders}"
    assert len(SOURCES) > 30  # the scan covers the package, not an empty list


@pytest.mark.parametrize("code, what", [
    ("from sphinx_needs.directives.needflow._directive import NeedflowGraphiz", "import of sphinx_needs"),
    ("from sphinx.util import _private_helper", "import of sphinx.util._private_helper"),
    ("def f(env):\n    return env.project._docname_to_path", "attribute _docname_to_path"),
    ("def f(env):\n    return getattr(env, '_write_doc_doctree_cache', None)", "getattr(..., '_write_doc"),
])
def test_the_scan_finds_each_kind_of_internal_use(code, what):
    assert any(what in line for line in internals_used(ast.parse(code), set())), code


def test_compat_uses_them_and_is_the_only_one():
    used = internals_used(ast.parse(COMPAT.read_text(encoding="utf-8")), set())
    assert any("_docname_to_path" in u for u in used) and any("_directive" in u for u in used)


def test_the_checks_pass_on_the_locked_versions():
    compat.check()
    assert sum(1 for _ in compat._checks()) >= 15


def test_a_changed_api_stops_the_build_with_one_line():
    """As an upgrade that drops LayoutHandler.meta would: one line naming it and the versions."""
    code = ("import sphinx_needs.layout as layout\ndel layout.LayoutHandler.meta\n"
            "from kb import compat\ncompat.check()\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "_ext")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: kb.compat: LayoutHandler no longer")
    assert f"this site supports {compat.SUPPORTED}" in lines[0] and "installed: sphinx " in lines[0]


def test_a_reworded_message_is_caught(monkeypatch):
    monkeypatch.setitem(compat.MESSAGE_TEXTS, "directives/need.py", ["a wording sphinx-needs never used"])
    with pytest.raises(SystemExit, match="no longer words a message with 'a wording sphinx-needs never used'"):
        compat.check()


def test_needs_come_from_the_documented_api():
    """Where sphinx_needs.api has the accessor (get_needs_view), the site's modules use it;
    only kb.compat opens SphinxNeedsData for what the API does not offer."""
    users = [str(p.relative_to(ROOT)) for p in ROOT.glob("_ext/**/*.py")
             if p != COMPAT and "SphinxNeedsData" in p.read_text(encoding="utf-8")]
    assert users == []


def test_needs_json_has_the_bytes_sphinx_needs_would_write(site):
    """kb.compat makes sphinx-needs encode needs.json with json.dumps: the file must be what
    its own json.dump(document, file, sort_keys=True) writes."""
    import io
    import json

    written = (site.outdir / "needs.json").read_text(encoding="ascii")
    document = json.loads(written)
    expected = io.StringIO()
    json.dump(document, expected, sort_keys=True)
    assert written == expected.getvalue()


def test_documents_with_needs_are_those_sphinx_needs_would_purge(site):
    """kb.compat skips sphinx-needs' purge of a document it would find nothing of: for a sample
    of the site's documents, with needs and without, sphinx-needs' own remove_doc changes the
    needs data of exactly those documents_with_needs names."""
    import pickle

    from sphinx_needs.data import SphinxNeedsData

    pickled = (site.outdir / ".doctrees" / "environment.pickle").read_bytes()

    def state(env):
        data = SphinxNeedsData(env)
        return (sorted(data.get_needs_mutable()), {k: list(v) for k, v in data.get_or_create_docs().items()},
                sorted(data.get_or_create_extends()), sorted(data.get_or_create_umls()))

    env = pickle.loads(pickled)
    holding = compat.documents_with_needs(env)
    with_needs = sorted(d for d in env.found_docs if d in holding)
    without = sorted(d for d in env.found_docs if d not in holding)
    assert len(with_needs) > 20 and len(without) > 5, "the site has documents of both kinds"
    sample = with_needs[::len(with_needs) // 6] + without[::max(1, len(without) // 4)] + ["no/such/document"]
    for docname in sample:
        env = pickle.loads(pickled)
        before = state(env)
        SphinxNeedsData(env).remove_doc(docname)
        assert (state(env) != before) == (docname in holding), docname
