"""Sphinx configuration. The information model (need types, fields, links, tags, checks)
lives in ubproject.toml; this file only wires the extensions and the theme."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "_ext"))

project = "IMDRF Medical Device Cybersecurity Knowledge Base"
author = "The medical-device cybersecurity knowledge base contributors"
copyright = "2026, " + author
language = "en"

extensions = [
    "myst_parser",
    "sphinx_design",
    "sphinx_needs",
    "sphinx.ext.graphviz",
    "kb",
]

needs_from_toml = "ubproject.toml"

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["colon_fence", "deflist"]
# Raw HTML in Markdown would reach the page as live markup (a pasted <script> would run):
# without these two markdown-it rules it is shown as text, as reStructuredText shows it.
# docutils.conf turns off the raw directive of both.
myst_disable_syntax = ["html_block", "html_inline"]
exclude_patterns = ["_build", ".venv", ".pytest_cache", "tests", "tools", "README.md", ".ci", ".github", "examples"]

nitpicky = True
html_theme = "furo"
html_title = "IMDRF Cybersecurity KB"
html_static_path = ["_static"]
# Printing: landscape pages, table headers repeated, every row of a paged needtable.
html_css_files = ["kb.css", ("print.css", {"media": "print"})]
html_js_files = ["print.js"]
# Where the site is published (CI sets KB_BASE_URL): the audit exports link every ID there,
# and pages get canonical links. Empty: the exports link relative to the site's export/.
html_baseurl = os.environ.get("KB_BASE_URL", "")
html_last_updated_fmt = None
html_show_sourcelink = False
graphviz_output_format = "svg"
