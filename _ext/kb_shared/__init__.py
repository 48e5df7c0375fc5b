"""Helpers that the site's extension (``kb``) and a device project's extensions
(examples/device-template/_ext) both use, written once: a docutils table (tables.py), the
install of a filter on Sphinx's log (logs.py), fast walks of a page's elements (trees.py),
the extension that makes a build's output reproducible (reproducible.py), and the warm builds
of a live preview (warm.py, tools/serve). The natural order of
IDs and section numbers is the exporter's (``kb_export.ordering``), which a device project
copies too.

A device project reaches them as it reaches the exporter: its conf.py puts the knowledge
base's ``_ext/`` on sys.path (the template in this repository), or the project copies
``_ext/kb_shared/`` and ``_ext/kb_export/`` of the same release as the interchange it vendors
into its own ``_ext/``."""
