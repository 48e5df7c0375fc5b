"""Sphinx configuration of the Corvane LV-7 device file (a fictional connected infusion
pump). Wiring only: the device's own model is in ubproject.toml, and the IMDRF knowledge
base's model is read from its published interchange (see imdrf_interchange below)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))
# The helpers this project shares with the knowledge base (kb_shared: tables, log filters)
# and its exporter (kb_export, also the natural order of IDs): here, the knowledge base's
# _ext/ beside this example. In your copy: copy _ext/kb_shared/ and _ext/kb_export/ of the
# knowledge base release whose interchange you vendor into this project's _ext/ and delete
# this line.
sys.path.append(str(Path(__file__).resolve().parents[2] / "_ext"))

project = "Corvane LV-7 infusion pump: cybersecurity file"
author = "Corvane Medical (fictional)"
copyright = "2026, " + author
language = "en"

extensions = [
    "sphinx_needs",
    "sphinx.ext.graphviz",
    "imdrf_interchange",
    "imdrf_messages",
    "device_gaps",
    "device_sbom",
    "kb_shared.reproducible",
]

needs_from_toml = "ubproject.toml"

# The IMDRF knowledge base's interchange: the directory that holds its needs.json and
# ubproject.toml (relative to this file). Here: the knowledge base built beside this
# example (make html). In your own copy: a vendored copy of the published files, e.g.
# "imdrf/v1", so the build is offline and pinned to the version you assessed.
imdrf_interchange = "../../_build/html/interchange/v1"
# Where requirement IDs link to: the knowledge base's pages. Relative paths are taken from
# this project's HTML output and export directories (both two levels below this file);
# in your copy, the published site's URL.
imdrf_base_url = "../../../../_build/html"

exclude_patterns = ["_build", "README.md", "requirements.in"]
nitpicky = True
html_theme = "furo"
html_title = "Corvane LV-7 cybersecurity file"
html_last_updated_fmt = None
html_show_sourcelink = False
graphviz_output_format = "svg"
