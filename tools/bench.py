#!/usr/bin/env python3
"""Benchmark of the knowledge base at 1,000, 5,000 and 10,000 needs (``make bench``).

For each size it generates a synthetic project under _build/bench/<N>/ with the site's real
configuration (conf.py, ubproject.toml, _ext/, _static/, _templates/ and a browse page, copied
from this tree): the same need types, fields, links, layouts and checks; requirement pages, one
per source section; design-control, test and post-market pages linking to them so that every
coverage rule holds; tabbed guideline pages with one needextract tab per section; the
traceability matrix (kb-trace-matrix), the coverage summary (kb-coverage-summary, needpie, needbar)
and the gaps page. Beside it, the floor: the same text with every need written as plain RST
(rubric, paragraph, field list with the links in both directions) and no views, built with
plain Sphinx and the same theme. And two peers, built from the same needs and pages:
  - plain sphinx-needs: `extensions = ["sphinx_needs"]`, the furo theme, sphinx-needs' default
    configuration but for the need types, link types and fields the needs are written with;
    none of the site's extensions, layouts, views or browse page; the needs as `.. req::` etc.
    with their links as options, a guideline page's sections each with its needextract;
  - StrictDoc (tools/strictdoc.lock, installed into <out>/strictdoc-venv, hash-checked): one
    .sdoc document per page, the needs as requirements of its default grammar (UID, TAGS,
    TITLE, STATEMENT, RATIONALE), every link a Parent relation; `strictdoc export --formats
    html`, which writes StrictDoc's own document, table, traceability and search pages, in
    parallel worker processes as it does by default (the Sphinx builds are serial unless
    $SPHINXOPTS has -j; cpu_seconds tells the two apart).

Cases, each timed with the peak memory of the process tree:
  full    clean build of the project (sphinx-build, the options of `make html`)
  noop    the same build again, nothing changed
  edit    the build after changing the text of one requirement
  export  the exporter (_ext/kb_export/) on the build's needs.json (skipped when it is not here)
  filter  toggling the first facet on browse.html in headless Chromium until the new result
          count is rendered, median of 5 (skipped when the build has no browse.html)
  floor   clean build of the floor project
  peer-needs      clean build of the plain sphinx-needs project
  peer-strictdoc  clean export of the StrictDoc project, its cache emptied first (skipped,
                  with the reason, when StrictDoc cannot be installed)

Writes _build/bench/results.json (a list of {"needs", "case", "seconds", "peak_rss_mb"};
a skipped case has "skipped" and null figures) and prints a table with the ratios to the floor.
seconds is wall-clock time. peak_rss_mb is the peak of the summed proportional set size (PSS)
of the process and its children, sampled every 50 ms, so a forked parallel worker is not
counted twice for the memory it shares (nor a child between vfork and exec). Each build
entry also has max_rss_mb (the kernel's exact high-water mark of the largest single process),
cpu_seconds (the CPU time of the build and its workers) and load (the machine's 1-minute load
average when it started): on a busy machine the wall-clock figures are longer than the CPU
time alone would give.

Usage: tools/bench.py [--sizes 1000,5000,10000] [--out _build/bench] [--cases full,noop,...]
Sphinx options come from $SPHINXOPTS (as for `make html`)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import textwrap
import threading
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
from kb.model import model_of  # noqa: E402  (the link types of the synthetic needs are the model's)

MODEL = model_of(ROOT)
CASES = ("full", "noop", "edit", "export", "filter", "floor", "peer-needs", "peer-strictdoc")
SHARE = {"standard": 0.12, "req": 0.40, "design": 0.15, "test": 0.17}  # postmarket: the rest
PER_PAGE = 20  # needs per page, as on the real site's pages
SECTIONS_PER_CHAPTER = 12
LINK = {"req": "derives_from", **MODEL.covering_links}  # need type -> the link it is written with
TITLE = {"guideline": "Guideline", "req": "Requirement", "design": "Design control",
         "test": "Verification test", "postmarket": "Post-market activity",
         "standard": "Standard or reference document"}
WORDS = ("device manufacturer hospital network patient update firmware vulnerability threat "
         "control encryption authentication record review release component supplier risk "
         "assessment interface clinical safety essential performance integrity software "
         "operator service incident response disclosure advisory configuration hardening "
         "logging monitoring recovery backup credential privilege session certificate key "
         "protocol port wireless gateway cloud station inventory support lifecycle plan "
         "evidence report test scan analysis design architecture boundary trust data").split()


# ------------------------------------------------------------------------- the synthetic model
def text(rnd: random.Random, words: int) -> str:
    return textwrap.fill(" ".join(rnd.choice(WORDS) for _ in range(words)).capitalize() + ".", 90)


def make_needs(n: int) -> list[dict]:
    """n needs of the six types, linked so that every coverage rule of the model holds."""
    model = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))
    tags = [t for t in model["needs"]["fields"]["tags"]["schema"]["items"]["enum"] if t != "cybersecurity"]
    fields = model["needs"]["fields"]
    enum = lambda f: fields[f]["schema"].get("enum") or fields[f]["schema"]["items"]["enum"]
    rnd = random.Random(n)
    count = {t: max(2, round(share * (n - 3))) for t, share in SHARE.items()}
    count["postmarket"] = max(2, n - 3 - sum(count.values()))
    needs: list[dict] = []

    def add(kind, nid, title, words, **f):
        needs.append({"type": kind, "id": nid, "title": title, "text": text(rnd, words), **f})

    for g in range(3):
        add("guideline", f"GL_BENCH_{g}", f"Synthetic guideline {g}", 40, publisher="Bench publisher",
            doc_id=f"BENCH/GL/{g}:2026", date="2026-01-15", url=f"https://example.org/gl/{g}",
            tags=["cybersecurity"])
    for s in range(count["standard"]):
        add("standard", f"STD_BENCH_{s}", f"Standard {s} on {rnd.choice(WORDS)} {rnd.choice(WORDS)}", 35,
            publisher="Bench standards body", doc_id=f"BENCH {s}:2020", tags=[rnd.choice(tags)])
    phases = [["design", "verification"], ["design", "verification", "post-market"], ["design"],
              ["verification", "submission"], ["post-market", "end-of-support"], ["design", "post-market"]]
    reqs = []
    for r in range(count["req"]):
        chapter, section = divmod(r // PER_PAGE, SECTIONS_PER_CHAPTER)
        sec = f"{chapter + 4}.{section + 1}"
        reqs.append(dict(type="req", id=f"REQ_BENCH_{r}", title=f"Requirement {r}: {text(rnd, 6)[:-1]}",
                         text=text(rnd, 45), section=sec, digest=f"N60-{sec}-{r % PER_PAGE:02d}",
                         stakeholder=rnd.sample(enum("stakeholder"), 2), phase=phases[r % len(phases)],
                         strength=rnd.choice(enum("strength")),
                         tags=["cybersecurity", *rnd.sample(tags, 2)],
                         derives_from=[f"GL_BENCH_{chapter % 3}"],
                         cites=rnd.sample([f"STD_BENCH_{s}" for s in range(count["standard"])], r % 3)))
        if r % 29 == 7:  # a few requirements say why they need no coverage
            reqs[-1]["rationale"] = "Informative statement of the source; nothing to build, test or maintain."
    needs += reqs

    def covering(kind: str, targets: list[str], extra: list[list[str]] | None = None) -> list[list[str]]:
        """Spread targets round robin over `count[kind]` covering needs; each gets at least one."""
        out = extra or [[] for _ in range(count[kind])]
        for i, t in enumerate(targets):
            out[i % count[kind]].append(t)
        for i, links in enumerate(out):
            links or links.append(targets[i % len(targets)])
        return out

    open_reqs = [q for q in reqs if "rationale" not in q]
    needing = lambda phase_set: [q["id"] for q in open_reqs if phase_set & set(q["phase"])]
    links = {
        "design": covering("design", needing({"design"})),
        "postmarket": covering("postmarket", needing({"post-market", "end-of-support"})),
    }
    designs = [f"DC_BENCH_{d}" for d in range(count["design"])]
    links["test"] = covering("test", needing({"verification"}), covering("test", designs))
    prefix = {"design": "DC", "test": "VT", "postmarket": "PM"}
    for kind in ("design", "test", "postmarket"):
        for i, targets in enumerate(links[kind]):
            f = {"design": dict(control_category=rnd.choice(enum("control_category"))),
                 "test": dict(method=rnd.choice(enum("method"))),
                 "postmarket": dict(stakeholder=[rnd.choice(enum("stakeholder"))],
                                    trigger="quarterly review and on every advisory")}[kind]
            add(kind, f"{prefix[kind]}_BENCH_{i}", f"{TITLE[kind]} {i}: {text(rnd, 6)[:-1]}",
                {"design": 120, "test": 90, "postmarket": 100}[kind],
                tags=["cybersecurity", rnd.choice(tags)], **{LINK[kind]: sorted(set(targets))}, **f)
    return needs


# ------------------------------------------------------------------------- writing a project
# The projects the bench builds from the same needs: "kb", the site's configuration; "floor",
# plain RST and plain Sphinx; "needs", plain sphinx-needs (its own directives and needextract).
KINDS = ("kb", "floor", "needs")
FOLDER = {"standard": "standards", "design": "design-controls", "test": "verification", "postmarket": "post-market"}


def links_of(needs: list[dict]) -> list[str]:
    """The link types the needs are written with, in the model's order."""
    used = {key for need in needs for key in need}
    return [link for link in MODEL.links if link in used]


def fields_of(needs: list[dict]) -> list[str]:
    """The fields the needs carry besides the core ones (type, id, title, text, tags) and links."""
    links = set(links_of(needs))
    return sorted({key for need in needs for key in need} - links - {"type", "id", "title", "text", "tags"})


def pages_of(needs: list[dict]) -> dict[str, list[dict]]:
    """Page name (a path without suffix) -> the needs written on it, in order: a requirement page
    per source section, a page per guideline, pages of PER_PAGE needs of the other types."""
    pages: dict[str, list[dict]] = {}
    for need in needs:
        kind, number = need["type"], int(need["id"].rsplit("_", 1)[1])
        if kind == "req":
            name = f"requirements/imdrf-n60/s{need['section'].replace('.', '-')}"
        elif kind == "guideline":
            name = f"guidelines/gl-{number}"
        else:
            name = f"requirements/{FOLDER[kind]}/p{number // PER_PAGE:03d}"
        pages.setdefault(name, []).append(need)
    return pages


def sections_of(needs: list[dict]) -> dict[str, list[str]]:
    """Guideline ID -> the source sections of the requirements deriving from it."""
    sections: dict[str, list[str]] = {}
    for need in needs:
        if need["type"] == "req":
            sections.setdefault(need["derives_from"][0], [])
            if need["section"] not in sections[need["derives_from"][0]]:
                sections[need["derives_from"][0]].append(need["section"])
    return sections


def page_title(name: str, members: list[dict]) -> str:
    return f"{TITLE[members[0]['type']]}s: {name.rsplit('/', 1)[1]}"


def need_rst(need: dict, back: dict[str, list[tuple[str, str]]], kind: str) -> str:
    skip = {"type", "id", "title", "text"}
    if kind == "floor":  # the same visible information, as plain RST
        lines = [f".. rubric:: {TITLE[need['type']]}: {need['title']} {need['id']}", "", need["text"], ""]
        for key, value in need.items():
            if key not in skip and value:
                lines.append(f":{key}: {', '.join(value) if isinstance(value, list) else value}")
        for name, ids in back.get(need["id"], []):
            lines.append(f":{name}: {', '.join(ids)}")
        return "\n".join(lines) + "\n"
    lines = [f".. {need['type']}:: {need['title']}", f"   :id: {need['id']}"]
    if need["type"] == "guideline" and kind == "kb":  # the site's layout, which plain sphinx-needs has not
        lines.append("   :layout: kb_guideline")
    for key, value in need.items():
        if key not in skip and value:
            lines.append(f"   :{key}: {', '.join(value) if isinstance(value, list) else value}")
    return "\n".join(lines) + "\n\n" + "\n".join("   " + l for l in need["text"].splitlines()) + "\n"


def page(title: str, intro: str, body: list[str]) -> str:
    return "\n".join([title, "=" * len(title), "", intro, "", *body, ""])


def needs_conf(needs: list[dict]) -> str:
    """conf.py of the plain sphinx-needs project: sphinx-needs' defaults, but for the need types,
    link types and fields the needs are written with (sphinx-needs rejects an undeclared option).
    A field is declared with the default it would have (a string, nullable), said explicitly, as
    sphinx-needs warns on a field that declares nothing."""
    types = [{"directive": t, "title": TITLE[t], "prefix": ""} for t in TITLE]
    links = {link: {"outgoing": MODEL.links[link]["outgoing"], "incoming": MODEL.links[link]["incoming"]}
             for link in links_of(needs)}
    return (f'project = "Bench plain sphinx-needs"\nextensions = ["sphinx_needs"]\nhtml_theme = "furo"\n'
            f'html_title = "IMDRF Cybersecurity KB"\nexclude_patterns = ["_build"]\n'
            f"needs_types = {types!r}\nneeds_links = {links!r}\n"
            f"needs_fields = {dict.fromkeys(fields_of(needs), {'nullable': True})!r}\n")


def write_project(dest: Path, needs: list[dict], kind: str = "kb") -> Path:
    """Write the project of that kind (KINDS); return the page the edit case changes."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if kind == "floor":
        (dest / "conf.py").write_text('project = "Bench floor"\nhtml_theme = "furo"\nnitpicky = True\n'
                                      'html_title = "IMDRF Cybersecurity KB"\nhtml_last_updated_fmt = None\n'
                                      'html_show_sourcelink = False\nexclude_patterns = ["_build"]\n')
    elif kind == "needs":
        (dest / "conf.py").write_text(needs_conf(needs))
    else:
        for name in ("conf.py", "ubproject.toml"):
            shutil.copy(ROOT / name, dest / name)
        for name in ("_ext", "_static", "_templates"):
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        (dest / "_static").mkdir(exist_ok=True)
    back: dict[str, list[tuple[str, str]]] = {}
    if kind == "floor":
        incoming = {link: MODEL.links[link]["incoming"] for link in ("derives_from", "cites", *MODEL.covering_link_names)}
        collected: dict[tuple[str, str], list[str]] = {}
        for need in needs:
            for link, label in incoming.items():
                for target in need.get(link, []):
                    collected.setdefault((target, label), []).append(need["id"])
        for (target, label), ids in collected.items():
            back.setdefault(target, []).append((label, ids))

    pages, sections = pages_of(needs), sections_of(needs)
    for name, members in pages.items():
        body = [need_rst(n, back, kind) for n in members]
        if members[0]["type"] == "guideline" and members[0]["id"] in sections:
            gl = members[0]
            body.append("Guidelines\n----------\n")
            if kind == "floor":
                body += [f"Section {s}\n{'~' * (8 + len(s))}\n\nThe requirements of section {s}.\n"
                         for s in sections.get(gl["id"], [])]
            elif kind == "needs":  # sphinx-needs' own needextract, without the site's tabs (sphinx-design)
                body += [f"Section {s}\n{'~' * (8 + len(s))}\n\nThe requirements of section {s}.\n\n"
                         f".. needextract::\n   :filter: type == 'req' and section == '{s}'\n"
                         for s in sections.get(gl["id"], [])]
            else:
                body.append(".. tab-set::\n")
                for s in sections.get(gl["id"], []):
                    body.append(f"   .. tab-item:: Section {s}\n\n      The requirements of section {s}.\n\n"
                                f"      .. needextract::\n         :filter: type == 'req' and section == '{s}'\n")
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / f"{name}.rst").write_text(page(page_title(name, members), text(random.Random(name), 60), body),
                                          encoding="utf-8")

    trace = dest / "requirements" / "traceability"
    trace.mkdir(parents=True)
    views = {
        "index": ("Traceability", [".. toctree::\n\n   matrix\n   gaps\n", ".. kb-coverage-summary::\n",
                                   (ROOT / "requirements/traceability/index.rst").read_text().split(".. kb-coverage-summary::")[1]]),
        "matrix": ("Traceability matrix", [".. kb-trace-matrix::\n"]),
        "gaps": ("Gaps and justified requirements", [(ROOT / "requirements/traceability/gaps.rst").read_text().split("\n", 3)[3]]),
    }
    for name, (title, body) in views.items():
        if kind != "kb":  # the site's views; the floor and plain sphinx-needs keep the pages only
            body = [".. toctree::\n\n   matrix\n   gaps\n"] if name == "index" else []
        (trace / f"{name}.rst").write_text(page(title, text(random.Random(name), 60), body), encoding="utf-8")

    # The browse page as the site has it (the kb-browse directive), without the site's prose,
    # which links pages (tags, crosswalk) that a synthetic knowledge base does not have.
    extra = ["browse"] if (ROOT / "browse.rst").is_file() and kind == "kb" else []
    if extra:
        (dest / "browse.rst").write_text(page("Browse and filter", text(random.Random("browse"), 40),
                                              [".. kb-browse::\n"]), encoding="utf-8")
    toc = "\n".join(f"   {d}" for d in [*extra, *sorted(pages), "requirements/traceability/index"])
    (dest / "index.rst").write_text(page("Benchmark knowledge base", "Synthetic pages.",
                                         [".. toctree::\n   :maxdepth: 1\n\n" + toc]), encoding="utf-8")
    return dest / f"{sorted(p for p in pages if p.startswith('requirements/imdrf-n60/'))[0]}.rst"


def sdoc_text(value: str) -> str:
    """A StrictDoc field value: one line as it is, several as a >>> ... <<< block."""
    return f">>>\n{value}\n<<<" if "\n" in value else value


def need_sdoc(need: dict) -> str:
    """A need as a StrictDoc requirement of the default grammar (its fields in the grammar's
    order; the default grammar has no other fields): every link of the need, whatever its type,
    a Parent relation to its target, as StrictDoc's relations go from child to parent."""
    lines = ["[REQUIREMENT]", f"UID: {need['id']}"]
    if need.get("tags"):
        lines.append(f"TAGS: {', '.join(need['tags'])}")
    lines += [f"TITLE: {TITLE[need['type']]}: {need['title']}", f"STATEMENT: {sdoc_text(need['text'])}"]
    if need.get("rationale"):
        lines.append(f"RATIONALE: {sdoc_text(need['rationale'])}")
    targets = [target for link in links_of([need]) for target in need[link]]
    if targets:
        lines.append("RELATIONS:")
        lines += [f"- TYPE: Parent\n  VALUE: {target}" for target in targets]
    return "\n".join(lines) + "\n"


def write_sdoc_project(dest: Path, needs: list[dict], cache: Path) -> None:
    """The same needs as StrictDoc documents: one .sdoc per page of the other projects, its intro
    a [TEXT] node, its needs in a section ([[SECTION]], the composite node that StrictDoc 0.30
    takes; it rejects the older [SECTION]); a guideline's document has a section per source
    section (StrictDoc has no needextract: each names its section only). StrictDoc writes its
    own index, traceability and search pages. Its strictdoc.toml puts StrictDoc's cache (parsed
    documents, RST fragments, compiled templates; by default in $TMPDIR, kept between runs) in
    `cache`, which is removed here, so that an export of the project is a clean build."""
    for folder in (dest, cache):
        shutil.rmtree(folder, ignore_errors=True)
    dest.mkdir(parents=True)
    (dest / "strictdoc.toml").write_text(f'[project]\ntitle = "Bench StrictDoc"\ncache_dir = "{cache}"\n')
    sections = sections_of(needs)
    for name, members in pages_of(needs).items():
        title = page_title(name, members)
        nodes = [f"[TEXT]\nSTATEMENT: {sdoc_text(text(random.Random(name), 60))}\n",
                 f"[[SECTION]]\nTITLE: {title}\n\n" + "\n".join(need_sdoc(n) for n in members) + "\n[[/SECTION]]\n"]
        if members[0]["type"] == "guideline" and members[0]["id"] in sections:
            nodes += [f"[[SECTION]]\nTITLE: Section {s}\n\n[TEXT]\nSTATEMENT: The requirements of section {s}.\n\n[[/SECTION]]\n"
                      for s in sections[members[0]["id"]]]
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / f"{name}.sdoc").write_text(f"[DOCUMENT]\nTITLE: {title}\n\n" + "\n".join(nodes), encoding="utf-8")


# ------------------------------------------------------------------------- measuring
def _memory_kb(pid: int) -> tuple[int, int] | None:
    """(RSS, PSS) of a process in KiB."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                      if line.startswith(("Rss:", "Pss:")))
        return int(fields["Rss"].split()[0]), int(fields["Pss"].split()[0])
    except (OSError, ValueError, KeyError):
        return None


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
                for c in (task / "children").read_text().split()]
    except (OSError, ValueError):
        return []


def _tree_pss_kb(pid: int) -> int:
    """Summed PSS of pid and all its descendants, in KiB. A child started with vfork (as
    Python's subprocess starts graphviz, git or the SBOM tool) shares its parent's memory map
    until it executes its program and reports the parent's memory again: a child whose PSS
    equals its parent's (within 2 %) while nearly all of it is its own (PSS >= 80 % of RSS;
    a forked worker shares its pages, which halves its PSS) is that, and is not counted."""
    total, todo = 0, [(pid, None)]
    while todo:
        p, parent_pss = todo.pop()
        memory = _memory_kb(p)
        if memory is None:
            continue
        rss, pss = memory
        if parent_pss and abs(pss - parent_pss) <= 0.02 * parent_pss and pss >= 0.8 * rss:
            continue
        total += pss
        todo += [(c, pss) for c in _children(p)]
    return total


def measure(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, dict]:
    """Run cmd; return (seconds, peak memory in MB, extra figures). Raises on failure."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, output = [0], []
    reader = threading.Thread(target=lambda: output.append(proc.stdout.read()), daemon=True)
    reader.start()

    def sample():
        while proc.returncode is None:
            peak[0] = max(peak[0], _tree_pss_kb(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # wait4: the exit status and the resource usage of the process and its descendants
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    reader.join()
    sampler.join()
    if proc.returncode:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{''.join(output)[-5000:]}")
    # CPU time of the build and its workers, and the machine's load when it started: the
    # seconds are wall-clock time, which other work on the machine lengthens. max_rss_mb is
    # the kernel's high-water mark of the largest single process (no sampling involved).
    return seconds, round(peak[0] / 1024, 1), {"cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
                                              "max_rss_mb": round(usage.ru_maxrss / 1024, 1), "load": round(load, 2)}


def sphinx(src: Path, out: Path) -> list[str]:
    opts = shlex.split(os.environ.get("SPHINXOPTS", "-W --keep-going -n"))
    return [sys.executable, "-m", "sphinx", "-b", "html", *opts, str(src), str(out)]


FILTER_JS = """() => new Promise(resolve => {
    // toggles the first facet control and waits for [data-result-count] to change
    const count = document.querySelector('[data-result-count]');
    const facet = document.querySelector('#kb-browse input[type=checkbox], #kb-browse input[type=radio], #kb-browse select');
    if (!facet) { resolve([null, 'no facet control (checkbox, radio or select) found']); return; }
    const how = facet.tagName.toLowerCase() + ' ' + (facet.name || facet.id);
    const t0 = performance.now();
    const done = () => requestAnimationFrame(() => resolve([(performance.now() - t0) / 1000, how]));
    new MutationObserver(done).observe(count, {childList: true, characterData: true, subtree: true, attributes: true});
    if (facet.tagName === 'SELECT') {
        facet.selectedIndex = facet.selectedIndex > 0 ? 0 : Math.min(1, facet.options.length - 1);
        facet.dispatchEvent(new Event('change', {bubbles: true}));
    } else facet.click();
    setTimeout(() => resolve([null, how + ': the result count did not change within 10 s']), 10000);
})"""


def filter_time(page: Path, runs: int = 5) -> tuple[float, str]:
    """Median seconds from toggling the first facet of browse.html to the new result count
    (rendered). A facet that reloads the page (the facets are in the URL query) is timed
    from the navigation to the result count of the new page."""
    from playwright.sync_api import Error, sync_playwright
    times, how = [], ""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium") or None)
        tab = browser.new_page()
        tab.goto(page.as_uri())
        tab.wait_for_selector("[data-result-count]")
        tab.wait_for_load_state("networkidle")
        for _ in range(runs):
            start = time.perf_counter()
            try:
                seconds, how = tab.evaluate(FILTER_JS)
            except Error as error:  # the facet navigated: time the new page up to its count
                if "context was destroyed" not in str(error) and "navigation" not in str(error):
                    raise
                tab.wait_for_selector("[data-result-count]")
                seconds, how = time.perf_counter() - start, "navigation to " + tab.url.rsplit("/", 1)[-1]
            if seconds is None:
                raise RuntimeError(f"filter on {page}: {how}")
            times.append(seconds)
        browser.close()
    return statistics.median(times), how


def bench_size(n: int, out: Path, cases: list[str]) -> list[dict]:
    results: list[dict] = []

    def record(case, seconds=None, peak=None, extra=None, skipped=None, **more):
        entry = {"needs": n, "case": case, "seconds": None if seconds is None else round(seconds, 3),
                 "peak_rss_mb": peak, **({"skipped": skipped} if skipped else {}), **(extra or {}), **more}
        results.append(entry)
        print(f"  {n:>6} {case:<14} " + (f"skipped: {skipped}" if skipped else f"{seconds:8.2f} s " + (f"{peak:8.1f} MB" if peak is not None else "       - MB")),
              flush=True)

    needs = make_needs(n)
    src, html = out / str(n) / "src", out / str(n) / "html"
    edited = write_project(src, needs)
    shutil.rmtree(html, ignore_errors=True)
    if "full" in cases or "noop" in cases or "edit" in cases:
        record("full", *measure(sphinx(src, html)))
    if "noop" in cases:
        record("noop", *measure(sphinx(src, html)))
    if "edit" in cases:
        body = edited.read_text(encoding="utf-8")
        first_text = next(l for l in body.splitlines() if l.startswith("   ") and not l.strip().startswith(":"))
        edited.write_text(body.replace(first_text, first_text + " Edited for the benchmark.", 1), encoding="utf-8")
        record("edit", *measure(sphinx(src, html)), page=str(edited.relative_to(src)))
    if "export" in cases:
        package = src / "_ext" / "kb_export"
        if not (package / "__main__.py").is_file():
            record("export", skipped="not in this tree (_ext/kb_export/)")
        elif not (html / "needs.json").is_file():
            record("export", skipped="no needs.json: run the full case too")
        else:
            export_dir = out / str(n) / "export"
            shutil.rmtree(export_dir, ignore_errors=True)
            # run from _ext/, where python -m finds the package
            record("export", *measure([sys.executable, "-m", "kb_export", str(html / "needs.json"), "-o",
                                       str(export_dir), "--model", str(src / "ubproject.toml")], cwd=package.parent))
    if "filter" in cases:
        if not (html / "browse.html").is_file():
            record("filter", skipped="not in this tree (no browse.html in the build)")
        else:
            seconds, how = filter_time(html / "browse.html")
            record("filter", seconds, None, {"facet": how, "runs": 5})
    if "floor" in cases:
        floor_src, floor_html = out / str(n) / "floor-src", out / str(n) / "floor-html"
        write_project(floor_src, needs, "floor")
        shutil.rmtree(floor_html, ignore_errors=True)
        record("floor", *measure(sphinx(floor_src, floor_html)))
    if "peer-needs" in cases:
        peer_src, peer_html = out / str(n) / "peer-needs-src", out / str(n) / "peer-needs-html"
        write_project(peer_src, needs, "needs")
        shutil.rmtree(peer_html, ignore_errors=True)
        record("peer-needs", *measure(sphinx(peer_src, peer_html)))
    if "peer-strictdoc" in cases:
        strictdoc, why_not = strictdoc_program(out / "strictdoc-venv")
        if strictdoc is None:
            record("peer-strictdoc", skipped=why_not)
        else:
            peer_src, peer_html = out / str(n) / "peer-strictdoc-src", out / str(n) / "peer-strictdoc-html"
            write_sdoc_project(peer_src, needs, cache=out / str(n) / "peer-strictdoc-cache")
            shutil.rmtree(peer_html, ignore_errors=True)
            record("peer-strictdoc", *measure([str(strictdoc), "export", "--formats", "html", "--config",
                                               str(peer_src / "strictdoc.toml"), "--output-dir", str(peer_html),
                                               str(peer_src)], cwd=peer_src.parent))
    return results


def strictdoc_program(venv: Path) -> tuple[Path | None, str]:
    """The strictdoc program of a virtual environment installed from tools/strictdoc.lock
    (hash-checked, as `make venv` installs the site's), made or updated when the lock changed;
    (None, why) when it cannot be installed."""
    lock = ROOT / "tools" / "strictdoc.lock"
    stamp = venv / f".installed-{hashlib.sha256(lock.read_bytes()).hexdigest()[:16]}"
    if not stamp.is_file():
        print(f"  installing StrictDoc into {venv} from {lock.relative_to(ROOT)}", flush=True)
        for command in ([sys.executable, "-m", "venv", "--clear", str(venv)],
                        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--require-hashes",
                         "--no-deps", "-r", str(lock)]):
            proc = subprocess.run(command, capture_output=True, text=True)
            if proc.returncode:  # the reason: pip's last ERROR line, else the last line said
                said = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
                reason = next((line for line in reversed(said) if "ERROR" in line), said[-1] if said else "")
                return None, f"{shlex.join(command[:3])} failed ({proc.returncode}): {reason}"
        stamp.touch()
    program = venv / "bin" / "strictdoc"
    return (program, "") if program.is_file() else (None, f"no {program} after installing {lock.name}")


def table(results: list[dict]) -> str:
    floor = {r["needs"]: r["seconds"] for r in results if r["case"] == "floor" and r["seconds"]}
    full = {r["needs"]: r["seconds"] for r in results if r["case"] == "full" and r["seconds"]}
    rows = [f"{'needs':>6}  {'case':<14} {'seconds':>9} {'peak MB':>8} {'max MB':>8} {'x floor':>8} {'% full':>7} {'cpu s':>8} {'load':>5}"]
    for r in results:
        if r.get("skipped"):
            rows.append(f"{r['needs']:>6}  {r['case']:<14} skipped: {r['skipped']}")
            continue
        x = f"{r['seconds'] / floor[r['needs']]:8.2f}" if r["needs"] in floor else f"{'':>8}"
        pct = f"{100 * r['seconds'] / full[r['needs']]:6.1f}%" if r["needs"] in full else f"{'':>7}"
        peak = f"{r['peak_rss_mb']:8.1f}" if r["peak_rss_mb"] is not None else f"{'-':>8}"
        peak += f" {r['max_rss_mb']:8.1f}" if r.get("max_rss_mb") is not None else f" {'-':>8}"
        cpu = f"{r['cpu_seconds']:8.1f} {r['load']:5.1f}" if "cpu_seconds" in r else ""
        rows.append(f"{r['needs']:>6}  {r['case']:<14} {r['seconds']:9.3f} {peak} {x} {pct} {cpu}")
    # the peer targets, as ratios of the same run: the site's full build against plain
    # sphinx-needs (at most 1.0 wanted) and StrictDoc against the site (at least 3 wanted)
    peers = {(r["needs"], r["case"]): r["seconds"] for r in results if r.get("seconds")}
    for n in full:
        if (n, "peer-needs") in peers:
            rows.append(f"{n:>6}  full / peer-needs = {full[n] / peers[n, 'peer-needs']:.2f}")
        if (n, "peer-strictdoc") in peers:
            rows.append(f"{n:>6}  peer-strictdoc / full = {peers[n, 'peer-strictdoc'] / full[n]:.2f}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,10000")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "bench")
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    args.out = args.out.resolve()  # the export case runs in the project directory
    cases = args.cases.split(",")
    if unknown := set(cases) - set(CASES):
        parser.error(f"unknown cases: {sorted(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    print(f"SPHINXOPTS={os.environ.get('SPHINXOPTS', '-W --keep-going -n')!r}, {os.cpu_count()} CPUs")
    for n in (int(s) for s in args.sizes.split(",")):
        results += bench_size(n, args.out, cases)
        (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(table(results))
    print(f"written: {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
