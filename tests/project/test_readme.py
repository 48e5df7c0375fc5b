"""The README is one screen: what it is, who it is for, the two commands, where the outputs
go, and links into the site, every one of which is a page of the built site."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_the_readme_fits_on_one_screen():
    assert len(README.splitlines()) <= 80


def test_it_gives_the_two_commands_and_the_three_ways_in():
    assert "make html" in README and "make test" in README
    targets = LINK.findall(README)
    for page in ("guide/using", "guide/device", "guide/contributing"):
        assert any(t.startswith(page + ".") for t in targets), page


def test_every_relative_link_is_a_page_of_the_site(site):
    relative = [t for t in LINK.findall(README) if not re.match(r"^[a-z]+:", t) and not t.startswith("#")]
    assert len(relative) >= 5
    for target in relative:
        path = PurePosixPath(target.split("#")[0])
        assert (ROOT / path).is_file(), f"README links to {target}, which is not in the repository"
        page = site.outdir / path.with_suffix(".html")
        assert page.is_file(), f"README links to {target}, which is no page of the built site"
