"""The audit exporter: a sphinx-needs needs.json as XLSX, CSV, ReqIF, needs.json, an SBOM of
the toolchain, a manifest and SHA256SUMS.

It imports nothing from the site's package (``kb``), so any sphinx-needs project can copy
this folder and use it: ``python3 -m kb_export needs.json -o outdir`` (``__main__.py``), or
from Python::

    from kb_export import export, read_trace
    export("needs.json", "outdir", trace=read_trace("ubproject.toml"))

Its modules: needs.py reads and checks the file; filter.py selects needs; tables.py makes
the sheets (trace.py says what covers a requirement, crosswalk.py which links are mappings);
xlsx.py, reqif.py (tree.py orders its specifications) and sbom.py write the formats;
bundle.py writes them all with the manifest and checksums; ordering.py is the natural order
of IDs and section numbers."""

from .bundle import FILES, Source, export, exporter_digest, source_of
from .needs import ExportError
from .ordering import natural_key
from .trace import Trace
from .trace import read as read_trace

__all__ = ["FILES", "ExportError", "Source", "Trace", "export", "exporter_digest", "natural_key",
           "read_trace", "source_of"]
