"""The site is self-contained: no page, stylesheet or script of the built site loads a script,
style, font, image or frame from outside it, so it works offline and on a locked-down hospital
network, and no third party learns who reads what. Links (<a href>) to official documents are
fine: they load nothing until followed."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)  # http://, https://, //host
# attributes that make the browser fetch something, by element
FETCHED = {"script": ("src",), "img": ("src", "srcset"), "iframe": ("src",), "frame": ("src",),
           "embed": ("src",), "object": ("data",), "source": ("src", "srcset"),
           "video": ("src", "poster"), "audio": ("src",), "track": ("src",),
           "input": ("src",), "image": ("href", "xlink:href"), "use": ("href", "xlink:href")}
# <link> relations that only name another page; every other <link> fetches its href
NAVIGATION = {"canonical", "alternate", "next", "prev", "index", "search", "author", "license", "help"}
CSS_URL = re.compile(r"""url\(\s*(['"]?)(?P<url>[^'")]*)\1\s*\)|@import\s+(['"])(?P<imp>[^'"]*)\3""", re.I)
# XML namespace names are identifiers that scripts pass to createElementNS, not addresses
NAMESPACES = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml",
              "http://www.w3.org/1999/xlink", "http://www.w3.org/1998/Math/MathML")
JS_STRING_URL = re.compile(r"""(["'`])(?P<url>(?:https?:)?//[^"'`\s]+)\1""")


def css_loads(css: str) -> list[str]:
    return [m["url"] if m["url"] is not None else m["imp"] for m in CSS_URL.finditer(css)]


class Fetches(HTMLParser):
    """Every URL an HTML page makes the browser fetch by itself."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name in FETCHED.get(tag, ()):
            if name in values:
                # srcset: "url 1x, url 2x"
                self.urls += [part.split()[0] for part in values[name].split(",") if part.strip()]
        if tag == "link" and "href" in values:
            if not set(values.get("rel", "").lower().split()) <= NAVIGATION:
                self.urls.append(values["href"])
        if "style" in values:
            self.urls += css_loads(values["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += css_loads(data)


def fetched_by(path: Path, text: str) -> list[str]:
    if path.suffix == ".html":
        parser = Fetches()
        parser.feed(text)
        return parser.urls
    if path.suffix == ".css":
        return css_loads(text)
    return [m["url"] for m in JS_STRING_URL.finditer(text) if not m["url"].startswith(NAMESPACES)]


def external(path: Path, text: str) -> list[str]:
    return [url for url in fetched_by(path, text) if EXTERNAL.match(url)]


def site_files(site) -> list[Path]:
    return sorted(p for p in site.outdir.rglob("*")
                  if p.suffix in (".html", ".css", ".js") and ".doctrees" not in p.parts)


@pytest.mark.parametrize("name, text, found", [
    ("a.html", '<script src="https://cdn.example.org/x.js"></script>', 1),
    ("a.html", '<link rel="stylesheet" href="//fonts.example.org/css">', 1),
    ("a.html", '<link rel="preconnect" href="https://fonts.example.org">', 1),
    ("a.html", '<img srcset="a.png 1x, https://img.example.org/b.png 2x">', 1),
    ("a.html", '<iframe src="https://video.example.org/embed"></iframe>', 1),
    ("a.html", '<div style="background: url(https://img.example.org/b.png)"></div>', 1),
    ("a.html", "<style>@import 'https://fonts.example.org/f.css';</style>", 1),
    ("a.css", '@font-face { src: url("https://fonts.example.org/f.woff2") }', 1),
    ("a.css", '@import url(//fonts.example.org/f.css);', 1),
    ("a.js", 's.src = "https://cdn.example.org/x.js";', 1),
    ("a.html", '<a href="https://www.imdrf.org/documents">N60</a><link rel="next" href="https://x.org">', 0),
    ("a.html", '<script src="_static/x.js"></script><img src="data:image/png;base64,AA==">', 0),
    ("a.css", 'a { background: url("data:image/svg+xml,<svg xmlns=\'http://www.w3.org/2000/svg\'/>") }', 0),
    ("a.js", 'document.createElementNS("http://www.w3.org/2000/svg", "rect"); // see https://x.org', 0),
])
def test_scanner_finds_what_loads_from_outside(name, text, found):
    assert len(external(Path(name), text)) == found


def test_site_loads_nothing_from_outside(site):
    files = site_files(site)
    assert any(p.suffix == ".js" for p in files) and any(p.suffix == ".css" for p in files)
    found = {str(p.relative_to(site.outdir)): external(p, p.read_text(encoding="utf-8"))
             for p in files}
    assert {name: urls for name, urls in found.items() if urls} == {}


def test_every_local_asset_a_page_loads_is_in_the_site(site):
    """Self-contained also means complete: what a page fetches from the site is there."""
    missing = set()
    for page in (p for p in site_files(site) if p.suffix == ".html"):
        for url in fetched_by(page, page.read_text(encoding="utf-8")):
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # data: URIs; external ones are the test above
            if not (page.parent / unquote(parts.path)).resolve().is_file():
                missing.add(f"{page.relative_to(site.outdir)}: {url}")
    assert sorted(missing) == []
