"""The site in a real browser: Debian's chromium, headless, driven by Playwright, opening the
built site from file:// and over a loopback HTTP server. Every page a test opens must log no
console error and request nothing outside the machine."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from conftest import browsed, documents_of, frameworks_of

FIELD = {"tag": "tags", "type": "type", "stakeholder": "stakeholder", "phase": "phase",
         "section": "section", "coverage": "coverage", "stage": "lifecycle_stage"}


# ---------------------------------------------------------------------------- helpers

def matching(needs: dict, **facets: str) -> set[str]:
    """IDs of the needs that carry every given facet value, from needs.json."""
    def values(need, key):
        if key == "framework":
            return frameworks_of(need, needs)
        if key == "document":
            return documents_of(need, needs)
        value = need[FIELD[key]]
        return value if isinstance(value, list) else [value]
    return {i for i, n in browsed(needs).items() if all(v in values(n, k) for k, v in facets.items())}


def open_browse(page, root: str, query: str = "") -> None:
    page.goto(f"{root}browse.html{query}")
    page.wait_for_selector("tr[data-need-id]")


def result_count(page) -> int:
    return int(page.get_attribute("[data-result-count]", "data-result-count"))


def result_ids(page) -> list[str]:
    """The IDs of all results, after showing every page of them."""
    more = page.locator(".kb-browse-more")
    while more.is_visible():
        more.click()
    return page.eval_on_selector_all("tr[data-need-id]", "rows => rows.map(r => r.dataset.needId)")


def query_of(page) -> list[tuple[str, str]]:
    """The page's query as the page itself sees it (page.url follows history changes late)."""
    return parse_qsl(page.evaluate("location.search").removeprefix("?"))


# ---------------------------------------------------------------------------- browse

def test_tag_in_url_shows_the_tagged_needs(page, root, needs):
    open_browse(page, root, "?tag=patient-safety")
    expected = matching(needs, tag="patient-safety")
    assert result_count(page) == len(expected)
    ids = result_ids(page)
    assert len(ids) == len(set(ids)) and set(ids) == expected
    links = page.eval_on_selector_all("tr[data-need-id] th a", "links => links.map(a => [a.textContent, a.href])")
    for need_id, href in links:
        assert href.endswith(f"/{needs[need_id]['docname']}.html#{need_id}"), href


def test_two_facets_combine(page, root, needs):
    open_browse(page, root, "?tag=patient-safety&stakeholder=manufacturer")
    expected = matching(needs, tag="patient-safety", stakeholder="manufacturer")
    assert 0 < len(expected) < len(matching(needs, tag="patient-safety"))
    assert result_count(page) == len(expected)
    assert set(result_ids(page)) == expected
    # the count beside a value: the results if it were added to the other filters
    label = page.locator("label.kb-facet-value", has=page.locator('input[name="type"][value="req"]'))
    reqs = matching(needs, tag="patient-safety", stakeholder="manufacturer", type="req")
    assert label.locator(".kb-facet-count").text_content() == f"({len(reqs)})"


def test_changing_a_facet_updates_the_url_and_back_restores_it(page, root, needs):
    open_browse(page, root, "?tag=patient-safety")
    page.check('input[name="stakeholder"][value="manufacturer"]')
    assert query_of(page) == [("tag", "patient-safety"), ("stakeholder", "manufacturer")]
    assert result_count(page) == len(matching(needs, tag="patient-safety", stakeholder="manufacturer"))
    page.uncheck('input[name="tag"][value="patient-safety"]')
    assert query_of(page) == [("stakeholder", "manufacturer")]
    assert result_count(page) == len(matching(needs, stakeholder="manufacturer"))
    page.go_back()
    assert query_of(page) == [("tag", "patient-safety"), ("stakeholder", "manufacturer")]
    assert page.is_checked('input[name="tag"][value="patient-safety"]')
    assert result_count(page) == len(matching(needs, tag="patient-safety", stakeholder="manufacturer"))


def test_framework_in_url_shows_its_clauses_and_the_requirements_mapped_to_it(page, root, needs):
    open_browse(page, root, "?framework=STD_IEC_81001_5_1_2021")
    expected = matching(needs, framework="STD_IEC_81001_5_1_2021")
    clauses = {i for i in expected if needs[i]["type"] == "clause"}
    assert clauses and {needs[i]["type"] for i in expected} == {"req", "clause"}
    assert result_count(page) == len(expected)
    ids = result_ids(page)
    assert len(ids) == len(set(ids)) and set(ids) == expected
    box = 'input[name="framework"][value="STD_IEC_81001_5_1_2021"]'
    assert page.is_checked(box)
    label = page.locator("label.kb-facet-value", has=page.locator(box))
    assert label.locator("span").first.text_content() == "IEC 81001-5-1"
    assert label.locator(".kb-facet-count").text_content() == f"({len(expected)})"
    # a second framework is an alternative; the requirements of both, with a type
    page.check('input[name="framework"][value="STD_NIST_CSF_2_0"]')
    page.check('input[name="type"][value="req"]')
    assert query_of(page) == [("type", "req"), ("framework", "STD_IEC_81001_5_1_2021"),
                              ("framework", "STD_NIST_CSF_2_0")]
    both = (matching(needs, framework="STD_IEC_81001_5_1_2021", type="req")
            | matching(needs, framework="STD_NIST_CSF_2_0", type="req"))
    assert result_count(page) == len(both) and set(result_ids(page)) == both
    # the count beside another framework: the requirements it would add to the type filter alone
    other = page.locator("label.kb-facet-value", has=page.locator('input[name="framework"][value="STD_MDS2"]'))
    assert other.locator(".kb-facet-count").text_content() == \
        f"({len(matching(needs, framework='STD_MDS2', type='req'))})"


def test_document_and_stage_filter_and_a_reload_keeps_them(page, root, needs):
    open_browse(page, root)
    page.check('input[name="document"][value="GL_IMDRF_N70"]')
    page.check('input[name="stage"][value="end-of-support"]')
    expected = matching(needs, document="GL_IMDRF_N70", stage="end-of-support")
    assert {needs[i]["type"] for i in expected} >= {"req", "postmarket"}
    assert query_of(page) == [("document", "GL_IMDRF_N70"), ("stage", "end-of-support")]
    assert result_count(page) == len(expected) and set(result_ids(page)) == expected
    page.reload()
    page.wait_for_selector("tr[data-need-id]")
    assert page.is_checked('input[name="document"][value="GL_IMDRF_N70"]')
    assert page.is_checked('input[name="stage"][value="end-of-support"]')
    assert result_count(page) == len(expected) and set(result_ids(page)) == expected
    label = page.locator("label.kb-facet-value", has=page.locator('input[name="document"][value="GL_IMDRF_N70"]'))
    assert label.locator("span").first.text_content() == "IMDRF N70"
    # N73 as well: the documents are alternatives
    page.check('input[name="document"][value="GL_IMDRF_N73"]')
    both = expected | matching(needs, document="GL_IMDRF_N73", stage="end-of-support")
    assert set(result_ids(page)) == both


def test_free_text_matches_id_title_and_statement(page, root, needs):
    open_browse(page, root, "?type=req")
    page.fill("#kb-browse-text", "REQ_N60_5_3")
    assert set(result_ids(page)) == {i for i in matching(needs, type="req") if "REQ_N60_5_3" in i}
    assert ("q", "REQ_N60_5_3") in query_of(page)
    page.fill("#kb-browse-text", "fuzz")
    expected = {i for i in matching(needs, type="req")
                if "fuzz" in (needs[i]["title"] + " " + needs[i]["content"]).lower()}
    assert expected and set(result_ids(page)) == expected


def test_unknown_values_in_the_url_are_ignored(page, root, needs):
    open_browse(page, root, "?tag=no-such-tag&colour=blue")
    assert result_count(page) == len(browsed(needs))


def test_keyboard_and_screen_reader(page, root, needs):
    open_browse(page, root, "?tag=patient-safety")
    unlabelled = page.eval_on_selector_all(
        "#kb-browse input", "inputs => inputs.filter(i => !i.labels.length).map(i => i.outerHTML)")
    assert unlabelled == []
    count = page.locator("[data-result-count]")
    assert count.get_attribute("aria-live") == "polite" and count.get_attribute("role") == "status"
    assert page.get_attribute("form.kb-browse-form", "role") == "search"
    # focus order: the text field, the Tag facet (open, as it has a selection), its values
    page.focus("#kb-browse-text")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.parentElement.dataset.facetKey") == "tag"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.value") == "patient-safety"
    page.keyboard.press("Space")
    assert query_of(page) == [] and result_count(page) == len(browsed(needs))


def test_csv_download_holds_the_filtered_view(page, root, needs):
    open_browse(page, root, "?tag=sbom&type=req")
    with page.expect_download() as download:
        page.click("button.kb-browse-csv")
    text = Path(download.value.path()).read_bytes().decode("utf-8")  # keeps the CRLFs
    assert text.startswith("\ufeff") and text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert rows[0] == ["ID", "Type", "Title", "Section", "Stakeholder", "Phase", "Tags", "Coverage", "Frameworks",
                       "URL", "Statement"]
    assert {r[0] for r in rows[1:]} == matching(needs, tag="sbom", type="req")
    for row in rows[1:]:
        need = needs[row[0]]
        assert row[2] == need["title"] and row[4] == "; ".join(need["stakeholder"])
        assert set(row[8].split("; ")) - {""} == frameworks_of(need, needs)
        assert row[9].endswith(f"{need['docname']}.html#{need['id']}")


def test_csv_neutralises_formulas_and_quotes_per_rfc_4180(page, root):
    open_browse(page, root)
    cells = ["=1+2", "+1", "-1", "@SUM(A1)", "\t=x", "\r=x", 'say "hi"', "a,b", "two\nlines", "plain", ""]
    out = page.evaluate("cells => window.kbBrowse.toCsv([cells, ['x', 'y']])", cells)
    assert out == ("'=1+2,'+1,'-1,'@SUM(A1),'\t=x,\"'\r=x\",\"say \"\"hi\"\"\",\"a,b\",\"two\nlines\",plain,"
                   "\r\nx,y\r\n")


def test_titles_are_shown_as_text_not_markup(page, http_root, site):
    """A title with markup in it reaches the page as text (the data file is altered on the way)."""
    original = (site.outdir / "_static" / "kb-browse-data.js").read_text(encoding="ascii")
    prefix = "window.KB_BROWSE_DATA = "
    data = json.loads(original[len(prefix):-2])
    title = '<img src=x onerror="window.injected=1"><b>bold</b> & <i>co</i>'
    data["needs"][0]["title"] = title
    altered = prefix + json.dumps(data) + ";\n"
    page.route(re.compile(r".*/kb-browse-data\.js.*"), lambda route: route.fulfill(
        body=altered, content_type="text/javascript"))
    open_browse(page, http_root)
    first = page.locator("tr[data-need-id]").first.locator(".kb-browse-title")
    assert first.text_content() == title
    assert first.locator("img, b, i").count() == 0
    assert page.evaluate("window.injected") is None


# ---------------------------------------------------------------------------- other pages

def test_guideline_tabs_switch(page, root, needs):
    page.goto(f"{root}guidelines/imdrf-n60/index.html")
    general = sorted(i for i, n in needs.items() if n["type"] == "req" and n["section"] == "4.1")
    protection = sorted(i for i, n in needs.items()
                        if n["type"] == "req" and (n["digest"] or "").startswith("N60-5.1-T1-DP"))
    assert page.locator(f'[id="{general[0]}"]').is_visible()
    assert not page.locator(f'[id="{protection[0]}"]').is_visible()
    page.click("label.sd-tab-label:text-is('Data Protection')")
    assert all(page.locator(f'[id="{i}"]').is_visible() for i in protection)
    assert not page.locator(f'[id="{general[0]}"]').is_visible()


def test_tag_links_lead_to_tag_pages(page, root):
    open_browse(page, root, "?tag=sbom")
    page.click("tr[data-need-id] a.kb-tag:text-is('sbom')")
    page.wait_for_url(re.compile(r"/tags/sbom\.html$"))
    assert page.locator("h1").first.text_content().startswith("sbom")


def test_sphinx_search_finds_a_requirement_by_id(page, http_root, needs):
    """Over HTTP: the search page fetches result pages for their summaries, which a browser
    does not allow from file://."""
    need = needs["REQ_N60_5_3_01"]
    page.goto(f"{http_root}search.html?q=REQ_N60_5_3_01")
    # results appear one by one (the crosswalk pages name the ID too): wait for the last
    page.wait_for_selector("#search-results .search-summary:has-text('Search finished')")
    hrefs = page.eval_on_selector_all("#search-results li a", "links => links.map(a => a.href)")
    assert any(h.split("#")[0].endswith(f"/{need['docname']}.html") for h in hrefs), hrefs
