"""The site as an auditor reads it (issue 20): the matrices at full width, a requirement's
statement before its metadata with its whole chain, and no serious or critical accessibility
violation (axe-core, run through Playwright) on the pages an auditor starts from."""

from __future__ import annotations

import pytest

MATRIX = "requirements/traceability/matrix.html"


def _chain_targets(needs: dict, req_id: str) -> tuple[list[str], list[str]]:
    """From needs.json: the design controls of a requirement and the tests that verify them."""
    designs = [i for i in needs[req_id]["implements_back"] if needs[i]["type"] == "design"]
    tests = sorted({t for d in designs for t in needs[d]["verifies_back"] if needs[t]["type"] == "test"})
    return designs, tests


def test_every_matrix_column_is_visible_at_1280_px(page, root, needs):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{root}{MATRIX}")
    headers = page.eval_on_selector_all(
        "table.kb-trace-matrix thead th",
        "ths => ths.map(th => { const r = th.getBoundingClientRect(); return [th.textContent, r.left, r.right]; })")
    assert [h for h, _, _ in headers][:3] == ["ID", "Title", "Section"]
    assert [h for h, _, _ in headers][-2:] == ["Coverage", "Suspect"]
    assert len(headers) == 8  # three steps of the chain between them
    assert all(0 <= left and right <= 1280 for _, left, right in headers), headers
    scroll = page.eval_on_selector(".kb-matrix-scroll", "d => [d.scrollWidth, d.clientWidth]")
    assert scroll[0] <= scroll[1], "the matrix scrolls sideways at 1280 px"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # every requirement is a row, with its coverage as a badge with its state as text
    rows = page.eval_on_selector_all("table.kb-trace-matrix tbody tr", "rows => rows.map(r => r.id)")
    assert sorted(rows) == sorted(f"matrix-{i}" for i, n in needs.items() if n["type"] == "req")
    req_id, need = next((i, n) for i, n in needs.items() if n["type"] == "req")
    badge = page.locator(f'[id="matrix-{req_id}"] .kb-badge')
    assert badge.text_content() == need["coverage"]
    # the header stays in view while the rows scroll
    page.eval_on_selector(".kb-matrix-scroll", "d => d.scrollTop = 2000")
    top = page.eval_on_selector(".kb-matrix-scroll", "d => d.getBoundingClientRect().top")
    assert abs(page.eval_on_selector("table.kb-trace-matrix thead th", "th => th.getBoundingClientRect().top")
               - top) < 3


def test_matrix_on_a_phone_keeps_the_id_column_and_scrolls_the_rest(page, root):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{root}{MATRIX}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    first = "table.kb-trace-matrix tbody tr:first-child th"
    before = page.eval_on_selector(first, "th => th.getBoundingClientRect().left")
    page.eval_on_selector(".kb-matrix-scroll", "d => d.scrollLeft = 300")
    assert page.eval_on_selector(".kb-matrix-scroll", "d => d.scrollLeft") > 0
    assert page.eval_on_selector(first, "th => th.getBoundingClientRect().left") == pytest.approx(before, abs=1)
    section = page.eval_on_selector("table.kb-trace-matrix tbody tr:first-child td.kb-section",
                                    "td => td.getBoundingClientRect().left")
    assert section < before + 300  # the other columns moved


def test_long_titles_expand_from_the_keyboard(page, root):
    page.goto(f"{root}{MATRIX}")
    summary = page.locator("table.kb-trace-matrix td.kb-title summary").first
    summary.focus()
    page.keyboard.press("Enter")
    details = page.locator("table.kb-trace-matrix td.kb-title details").first
    assert details.get_attribute("open") is not None


def test_requirement_statement_comes_first_and_its_chain_shows_the_tests_of_its_design_controls(page, root, needs):
    req_id = "REQ_N60_5_1_01"
    designs, tests = _chain_targets(needs, req_id)
    assert designs and tests
    page.goto(f"{root}{needs[req_id]['docname']}.html")
    box = page.locator(f'table.need[id="{req_id}"]')
    order = box.evaluate("""t => [...t.querySelectorAll(':scope > tbody > tr')].map(r => r.className)""")
    kinds = [next(k for k in ("head", "content", "footer", "meta") if k in c.split()) for c in order]
    assert kinds == ["head", "content", "footer", "meta"]
    statement = box.locator(":scope > tbody > tr.content").bounding_box()
    summary = box.locator(".kb-summary").bounding_box()
    assert statement["y"] + statement["height"] <= summary["y"]
    assert box.locator(".kb-summary").text_content().startswith("section " + needs[req_id]["section"])
    assert not box.locator(":scope > tbody > tr.meta").is_visible()  # every field, behind the button
    chain = box.locator("table.kb-chain")
    linked = chain.locator("a").evaluate_all("links => links.map(a => a.textContent)")
    assert set(designs) <= set(linked) and set(tests) <= set(linked)
    for test in tests:
        via = chain.locator(f".kb-via:has(a:text-is('{test}'))").first.text_content()
        assert any(f"(of {d})" in via for d in designs if test in needs[d]["verifies_back"])
    assert chain.locator(".kb-badge").text_content() == needs[req_id]["coverage"]


def test_design_control_shows_its_requirements_and_its_tests(page, root, needs):
    design_id, design = next((i, n) for i, n in sorted(needs.items())
                             if n["type"] == "design" and n["verifies_back"])
    page.goto(f"{root}{design['docname']}.html")
    chain = page.locator(f'table.need[id="{design_id}"] table.kb-chain')
    linked = set(chain.locator("a").evaluate_all("links => links.map(a => a.textContent)"))
    assert set(design["implements"]) <= linked
    assert {t for t in design["verifies_back"] if needs[t]["type"] == "test"} <= linked


# ---------------------------------------------------------------------------- accessibility

AXE_PAGES = ["index.html", "guidelines/imdrf-n60/index.html",
             "requirements/imdrf-n60/s05-1-security-architecture.html", MATRIX, "browse.html"]


@pytest.mark.parametrize("path", AXE_PAGES)
def test_axe_finds_no_serious_or_critical_violation(page, http_root, path):
    from axe_playwright_python.sync_playwright import Axe

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{http_root}{path}")
    page.wait_for_load_state("load")
    results = Axe().run(page).response
    assert results["testEngine"]["version"].startswith("4.")
    found = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5])
             for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert found == []
    assert results["passes"] or results["incomplete"] or results["inapplicable"]  # axe did run its rules


def test_guideline_tabs_switch_from_the_keyboard(page, root, needs):
    page.goto(f"{root}guidelines/imdrf-n60/index.html")
    first = page.locator(".sd-tab-set > input").first
    first.focus()
    labels = page.locator(".sd-tab-set").first.locator(":scope > label")
    page.keyboard.press("ArrowRight")
    second_id = page.evaluate("document.activeElement.id")
    assert second_id != first.get_attribute("id")
    assert page.evaluate("document.activeElement.checked") is True
    content = page.locator(f'label[for="{second_id}"] + .sd-tab-content')
    assert content.is_visible() and labels.count() > 1


def test_need_box_fields_open_from_the_keyboard(page, root):
    page.goto(f"{root}requirements/imdrf-n60/s05-1-security-architecture.html")
    page.wait_for_load_state("load")
    box = page.locator('table.need[id="REQ_N60_5_1_01"]')
    button = box.locator("span.needs_collapse")
    assert button.get_attribute("role") == "button" and button.get_attribute("aria-expanded") == "false"
    button.focus()
    page.keyboard.press("Enter")
    assert box.locator(":scope > tbody > tr.meta").is_visible()
    assert button.get_attribute("aria-expanded") == "true"
    assert "is implemented by" in box.locator(":scope > tbody > tr.meta").text_content()
