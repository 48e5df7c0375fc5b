"""The code's layout keeps its promises: the model's names are read, not copied; the helpers
the site and the device template share exist once; the exporter stands alone."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from kb.model import model_of

MODEL = model_of(ROOT)
ACCESSOR = ROOT / "_ext" / "kb" / "model" / "__init__.py"
SITE = sorted(ROOT.glob("_ext/**/*.py"))
TEMPLATE = sorted(ROOT.glob("examples/device-template/_ext/*.py"))
CODE = [*SITE, *TEMPLATE, ROOT / "conf.py", ROOT / "examples" / "device-template" / "conf.py",
        ROOT / "tools" / "bench.py", ROOT / "tools" / "review-links"]


def string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [(n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_covering_link_names_are_read_from_the_model_not_written_in_code():
    names = set(MODEL.covering_link_names)
    assert len(names) == 3  # the model declares them; the accessor derives them
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")(_back)?\b")
    found = {f"{p.relative_to(ROOT)}:{line}": text for p in CODE for line, text in string_constants(p)
             if p != ACCESSOR and pattern.fullmatch(text.strip())}
    # a string that is only a name (a dict value, a column, a field lookup) is a copy of it
    assert found == {}, f"covering link names written in code instead of asked of kb.model: {found}"


def test_the_check_finds_a_copied_name(tmp_path):
    copy = tmp_path / "copy.py"
    copy.write_text(f'COVERING = {{"design": "{MODEL.covering_links["design"]}_back"}}\n')
    names = set(MODEL.covering_link_names)
    assert any(re.fullmatch(r"(" + "|".join(names) + r")(_back)?", t) for _, t in string_constants(copy))


def test_coverage_states_are_declared_once():
    assert MODEL.states == ("covered", "justified", "gap")
    copies = [f"{p.relative_to(ROOT)}:{n.lineno}" for p in SITE
              for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
              if isinstance(n, (ast.Tuple, ast.List, ast.Set))
              and {getattr(e, "value", None) for e in n.elts} >= set(MODEL.states)]
    assert copies == []


def normalised_lines(path: Path) -> list[str]:
    """Code lines without blank, comment, import, docstring and lone punctuation lines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node):
            first = node.body[0]
            docstrings.update(range(first.lineno, first.end_lineno + 1))
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = " ".join(line.split())
        if (number in docstrings or not text or text.startswith(("#", "import ", "from "))
                or not re.search(r"\w", text)):
            continue
        out.append(text)
    return out


def windows(path: Path, size: int = 5) -> set[tuple[str, ...]]:
    lines = normalised_lines(path)
    return {tuple(lines[i:i + size]) for i in range(len(lines) - size + 1)}


def test_no_block_of_code_is_written_twice_between_site_and_template():
    site = {w: p for p in SITE for w in windows(p)}
    shared = {(str(site[w].relative_to(ROOT)), str(p.relative_to(ROOT))) for p in TEMPLATE
              for w in windows(p) if w in site}
    assert shared == set(), f"the same code in the site and the device template: {sorted(shared)}"


def test_the_template_uses_the_shared_helpers():
    imports = {(n.module, a.name) for p in TEMPLATE for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
               if isinstance(n, ast.ImportFrom) for a in n.names}
    assert {("kb_shared.tables", "table"), ("kb_shared.logs", "install"),
            ("kb_export.ordering", "natural_key")} <= imports


def test_one_natural_sort_key():
    """A function that turns the digits in a text into numbers (isdigit, then int) is a
    natural sort key."""
    keys = [f"{p.relative_to(ROOT)}:{n.name}" for p in [*SITE, *TEMPLATE]
            for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))) if isinstance(n, ast.FunctionDef)
            if any(isinstance(c, ast.Attribute) and c.attr == "isdigit" for c in ast.walk(n))
            and any(isinstance(c, ast.Call) and getattr(c.func, "id", None) == "int" for c in ast.walk(n))]
    assert keys == ["_ext/kb_export/ordering.py:natural_key"]


def test_the_exporter_imports_nothing_of_the_site_and_runs_alone(tmp_path):
    for path in (ROOT / "_ext" / "kb_export").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(m.split(".")[0] in ("kb", "kb_shared", "sphinx", "sphinx_needs", "docutils")
                               for m in modules), f"{path.name}:{node.lineno} imports {modules}"
    # a copy of the folder alone, somewhere else, answers its command line
    import shutil
    shutil.copytree(ROOT / "_ext" / "kb_export", tmp_path / "tools" / "kb_export",
                    ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "kb_export", "--help"], cwd=tmp_path / "tools",
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "--model" in proc.stdout, proc.stderr


def test_conf_loads_one_extension_of_the_site():
    tree = ast.parse((ROOT / "conf.py").read_text(encoding="utf-8"))
    extensions = next(ast.literal_eval(n.value) for n in ast.walk(tree)
                      if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "extensions")
    assert [e for e in extensions if e.startswith("kb")] == ["kb"]
    assert not list((ROOT / "_ext").glob("*.py")), "modules beside the packages in _ext/"
