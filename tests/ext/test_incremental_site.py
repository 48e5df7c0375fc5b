"""An incremental build of the real site gives the pages a clean build gives, after every kind
of edit to a need: its title, its content, a field, a link added, a link removed, a need added,
a need deleted.

The site's sources are copied once and built clean; then, edit group after edit group, the copy
is edited, built again in the same output and doctree directories (incremental) and, at the same
time, built clean elsewhere; every HTML page, needs.json and the search index must be the
same. The edits of one
group touch needs on different pages and topics, so each kind of edit has pages of its own that
only its own dependencies bring into the rebuild. The needs are picked from the clean build's
needs.json where the site's content decides which edit keeps the site valid (a link another
need also gives, a need nothing else names), so content work does not break the test.

Three groups, each an incremental and a clean build side by side (about a minute each on two
cores). No timings are asserted: `make bench` reports them."""

from __future__ import annotations

import difflib
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT, Build, pages, sphinx_build
from kb.model import model_of

#: The requirement of the issue that found stale crosswalk framework pages and diagrams.
TITLE_EDITED = "REQ_N60_5_2_01"
CONTENT_EDITED = "REQ_N60_6_3_01"
TAGS_EDITED = "REQ_N60_5_5_1_01"
PHASE_EDITED = "REQ_N60_5_5_1_02"
LINKED_FROM = "DC_RM_02"  # a design control ...
LINKED_TO = "REQ_N60_6_3_02"  # ... that comes to implement a requirement of another topic
#: A requirement added on the risk management page: the crosswalk's topic 2.9 selects it by
#: its section, so the topic, matrix, framework and coverage pages count it.
ADDED = "REQ_N60_5_2_99"
ADDED_PAGE = "requirements/imdrf-n60/s05-2-risk-management.rst"

#: What the copy leaves out: not sources of the site (conf.py excludes them too) or outputs.
NOT_SOURCES = shutil.ignore_patterns(".git", "_build", ".venv", "tests", "examples", "__pycache__",
                                     ".pytest_cache")


# ---------------------------------------------------------------------- editing a need's source
class Source:
    """The copy of the site being edited: needs are found from the last clean build's needs.json
    (document and line), edits are made to the lines of their directive."""

    def __init__(self, srcdir: Path, needs: dict[str, dict]) -> None:
        self.srcdir, self.needs = srcdir, needs
        self.edited: set[str] = set()

    def path(self, need_id: str) -> Path:
        need = self.needs[need_id]
        return self.srcdir / (need["docname"] + need["doctype"])

    def _block(self, need_id: str) -> tuple[Path, list[str], int, int]:
        """The file, its lines, and the directive's first and after-last line (0-based)."""
        path = self.path(need_id)
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        start = next(i for i in range(self.needs[need_id]["lineno"] - 1, -1, -1)
                     if re.match(r"\.\. [\w-]+::", lines[i]))
        assert re.search(rf"^\s+:id: {need_id}\s*$", "".join(lines[start:start + 3]), re.M), \
            f"{need_id}: no directive with this ID at {path}:{start + 1}"
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or lines[end].startswith(" ")):
            end += 1
        while not lines[end - 1].strip():
            end -= 1
        return path, lines, start, end

    def _write(self, path: Path, lines: list[str]) -> None:
        path.write_text("".join(lines), encoding="utf-8")
        self.edited.add(path.relative_to(self.srcdir).with_suffix("").as_posix())

    def set_title(self, need_id: str, title: str) -> None:
        path, lines, start, _ = self._block(need_id)
        lines[start] = re.sub(r"::.*$", f":: {title}", lines[start])
        self._write(path, lines)

    def append_content(self, need_id: str, sentence: str) -> None:
        path, lines, _, end = self._block(need_id)
        indent = re.match(r"\s*", lines[end - 1]).group(0)
        lines.insert(end, f"{indent}{sentence}\n")
        self._write(path, lines)

    def set_option(self, need_id: str, name: str, values: list[str]) -> None:
        path, lines, start, end = self._block(need_id)
        at = next(i for i in range(start, end) if re.match(rf"\s+:{name}:", lines[i]))
        indent = re.match(r"\s*", lines[at]).group(0)
        lines[at] = f"{indent}:{name}: {', '.join(values)}\n"
        self._write(path, lines)

    def delete(self, need_id: str) -> None:
        path, lines, start, end = self._block(need_id)
        del lines[start:end]
        self._write(path, lines)

    def append_to(self, page: str, text: str) -> None:
        path = self.srcdir / page
        path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + text, encoding="utf-8")
        self.edited.add(Path(page).with_suffix("").as_posix())


def named_elsewhere(srcdir: Path, need_id: str) -> bool:
    """Whether a page names the need besides its own ``:id:`` option (the record of reviewed
    links, requirements/reviewed-links.json, may keep naming a deleted need)."""
    pattern = re.compile(rf"\b{re.escape(need_id)}\b")
    return sum(len(pattern.findall(p.read_text(encoding="utf-8"))) for p in srcdir.rglob("*")
               if p.suffix in (".rst", ".md") and p.is_file()) > 1


def link_names(needs: dict[str, dict]) -> list[str]:
    """The outgoing link fields, read from needs.json: those with a ``<name>_back``."""
    sample = next(iter(needs.values()))
    return [k.removesuffix("_back") for k in sample if k.endswith("_back") and k.removesuffix("_back") in sample]


def removable_link(needs: dict[str, dict], kind: str, link: str, avoid: set[str]) -> tuple[str, str]:
    """(need, target): a ``link`` from a need of type ``kind`` whose target keeps another link of
    that type to it, from a need that keeps another, so no coverage or count rule fails."""
    for need_id, need in sorted(needs.items()):
        if need_id in avoid or need["type"] != kind:
            continue
        targets = need.get(link) or []
        for target in targets:
            if len(targets) > 1 and target not in avoid and len(needs[target].get(f"{link}_back") or []) > 1:
                return need_id, target
    pytest.fail(f"no {kind} has a {link} link that another one also gives")


def deletable_need(srcdir: Path, needs: dict[str, dict], kinds: set[str], avoid: set[str]) -> str:
    """A need of one of ``kinds`` that nothing links to or names, each of whose targets keeps
    another link of the same type (so coverage and the count rules still hold)."""
    links = link_names(needs)
    for need_id, need in sorted(needs.items()):
        if need["type"] not in kinds or need_id in avoid:
            continue
        if any(need.get(f"{link}_back") for link in links):
            continue
        if all(len(needs[t].get(f"{link}_back") or []) > 1 for link in links for t in need.get(link) or []) \
                and not named_elsewhere(srcdir, need_id):
            return need_id
    pytest.fail(f"no need of {sorted(kinds)} can be deleted without breaking a rule")


# ---------------------------------------------------------------------- building and comparing
def read_again(build: Build) -> set[str]:
    return set(re.findall(r"reading sources\.\.\. \[[ \d]+%\] (\S+)", build.output))


class Site:
    """The copy of the site, its incremental output, and the number of clean builds made."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.src = tmp / "src"
        shutil.copytree(ROOT, self.src, ignore=NOT_SOURCES)
        self.out = tmp / "incremental"
        self.clean_builds = 0
        first = sphinx_build(self.src, self.out)
        assert first.returncode == 0, f"the copy of the site does not build:\n{first.output[-6000:]}"
        self.last = first

    def source(self) -> Source:
        return Source(self.src, self.last.needs)

    def build_both(self) -> tuple[Build, Build]:
        """The incremental build and a clean build of the same sources, side by side."""
        self.clean_builds += 1
        with ThreadPoolExecutor(2) as pool:
            incremental = pool.submit(sphinx_build, self.src, self.out)
            clean = pool.submit(sphinx_build, self.src, self.tmp / f"clean-{self.clean_builds}")
            incremental, clean = incremental.result(), clean.result()
        assert clean.returncode == 0, f"the edited site does not build:\n{clean.output[-6000:]}"
        assert incremental.returncode == 0, f"the incremental build failed:\n{incremental.output[-6000:]}"
        self.last = clean
        return incremental, clean


def assert_same_output(incremental: Build, clean: Build) -> None:
    got, expected = pages(incremental.outdir), pages(clean.outdir)
    assert sorted(got.keys() ^ expected.keys()) == [], "pages only one build has"
    stale = sorted(p for p in expected if got[p] != expected[p])
    if stale:
        first = stale[0]
        diff = "".join(list(difflib.unified_diff(expected[first].splitlines(True), got[first].splitlines(True),
                                                 "clean/" + first, "incremental/" + first, n=1))[:40])
        pytest.fail(f"{len(stale)} pages differ from a clean build's: {stale}\n{diff}")
    for name in ("needs.json", "searchindex.js"):
        assert (incremental.outdir / name).read_bytes() == (clean.outdir / name).read_bytes(), name


def assert_incremental(incremental: Build, source: Source) -> None:
    """The build re-read the edited documents (and the tag pages it generates), not the site."""
    again = read_again(incremental)
    assert source.edited <= again, incremental.output[-3000:]
    assert {d for d in again - source.edited if not d.startswith("tags/")} == set(), \
        "documents nobody edited were read again"


def test_every_node_of_the_site_says_what_it_shows() -> None:
    """The rebuild knows which pages an edit touches only from what their views declare: every
    node class of the site's package declares all needs, some fields of every need, or none."""
    import importlib
    import inspect
    import pkgutil

    import kb
    from docutils import nodes
    from kb.build.rebuild import DECLARATIONS

    undeclared = []
    for info in pkgutil.walk_packages(kb.__path__, "kb."):
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, nodes.Element) and cls.__module__ == info.name \
                    and not any(getattr(cls, d, None) for d in DECLARATIONS):
                undeclared.append(f"{info.name}.{name}")
    assert undeclared == [], f"say what these show, with one of {DECLARATIONS}"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    return Site(tmp_path_factory.mktemp("incremental-site"))


# ---------------------------------------------------------------------- the edits, group by group
def test_title_content_and_fields(site: Site) -> None:
    """A requirement's title (the crosswalk framework pages and the diagrams show it), another's
    content, another's tags (it joins a tag page, a diagram and a browse facet) and another's
    phases."""
    source, needs = site.source(), site.last.needs
    source.set_title(TITLE_EDITED, "Manage security and safety risk jointly over the whole life cycle")
    source.append_content(CONTENT_EDITED, "A sentence added to test the incremental build.")
    new_tag = "data-protection"
    assert new_tag not in needs[TAGS_EDITED]["tags"]
    source.set_option(TAGS_EDITED, "tags", [*needs[TAGS_EDITED]["tags"], new_tag])
    assert "submission" not in needs[PHASE_EDITED]["phase"]
    source.set_option(PHASE_EDITED, "phase", [*needs[PHASE_EDITED]["phase"], "submission"])
    assert len(source.edited) == 3, "the edits are on three pages"

    incremental, clean = site.build_both()
    after = clean.needs
    assert after[TITLE_EDITED]["title"].startswith("Manage security and safety risk jointly")
    assert "to test the incremental build" in after[CONTENT_EDITED]["content"]
    assert new_tag in after[TAGS_EDITED]["tags"] and "submission" in after[PHASE_EDITED]["phase"]
    assert_incremental(incremental, source)
    assert_same_output(incremental, clean)


def test_link_added_and_link_removed(site: Site) -> None:
    """A design control comes to implement a requirement of another topic; another stops
    implementing one that a third design control still implements."""
    source, needs = site.source(), site.last.needs
    kind = needs[LINKED_FROM]["type"]
    link = model_of(ROOT).covering_links[kind]  # a design control's covering link: implements
    assert LINKED_TO not in needs[LINKED_FROM][link]
    source.set_option(LINKED_FROM, link, [*needs[LINKED_FROM][link], LINKED_TO])
    unlinked, target = removable_link(needs, kind, link, {LINKED_FROM, LINKED_TO})
    source.set_option(unlinked, link, [t for t in needs[unlinked][link] if t != target])

    incremental, clean = site.build_both()
    after = clean.needs
    assert LINKED_FROM in after[LINKED_TO][f"{link}_back"]
    assert unlinked not in after[target][f"{link}_back"]
    assert_incremental(incremental, source)
    assert_same_output(incremental, clean)


def test_need_added_and_need_deleted(site: Site) -> None:
    """A requirement is added (the crosswalk's topic selects it by its section); a test or
    post-market activity nothing else names is deleted (the back links, counts and coverage of
    its targets change)."""
    source, needs = site.source(), site.last.needs
    assert ADDED not in needs
    source.append_to(ADDED_PAGE, f"""\
.. req:: Review the security risk file at every design review
   :id: {ADDED}
   :digest: N60-5.2-99
   :section: 5.2
   :stakeholder: manufacturer
   :phase: design
   :strength: should
   :tags: cybersecurity, risk-management
   :derives_from: GL_IMDRF_N60
   :rationale: Added by the incremental build's test: no design control follows from it.

   A requirement added to test that an incremental build shows a new need wherever a clean
   build does.
""")
    # a need that covers (a test, a post-market activity): deleting it changes coverage
    deleted = deletable_need(site.src, needs, set(model_of(ROOT).covering_links), {LINKED_FROM, LINKED_TO})
    source.delete(deleted)

    incremental, clean = site.build_both()
    after = clean.needs
    assert ADDED in after and deleted not in after
    assert_incremental(incremental, source)
    assert_same_output(incremental, clean)
