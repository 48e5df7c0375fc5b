"""Sphinx configuration. The information model (need types, fields, links, tags, checks)
lives in ubproject.toml; this file only wires the extensions and the theme."""

import os
import subprocess
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
    "kb_layout",
    "kb_model",
    "kb_coverage",
    "kb_checks",
    "kb_review",
    "kb_rebuild",
    "kb_gc",
]

needs_from_toml = "ubproject.toml"

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["colon_fence", "deflist"]
exclude_patterns = ["_build", ".venv", ".pytest_cache", "tests", "tools", "README.md", ".ci", ".github", "examples"]

nitpicky = True
html_theme = "furo"
html_title = "IMDRF Cybersecurity KB"
html_static_path = ["_static"]
html_last_updated_fmt = None
html_show_sourcelink = False
graphviz_output_format = "svg"
