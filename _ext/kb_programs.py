"""System programs the build needs: stop at the start with one line saying what to install.

Without graphviz's ``dot``, each diagram would fail on its own, late in the build and with a
message about a setting (``graphviz_dot``) rather than about a missing package. make checks
first (tools/require-program); this check covers a plain ``sphinx-build``.

It stops the build with SystemExit and the message, not with an ExtensionError: Sphinx reports
any exception, its own included, as a crash with a traceback and a log file, where a missing
package needs one line."""

from __future__ import annotations

import shutil

from sphinx.application import Sphinx

# output formats whose builders run dot for a diagram (text and man show its alt text)
RENDERS_DIAGRAMS = {"html", "latex", "texinfo"}


def require_dot(app: Sphinx) -> None:
    if "sphinx.ext.graphviz" not in app.extensions or app.builder.format not in RENDERS_DIAGRAMS:
        return
    dot = app.config.graphviz_dot
    if shutil.which(dot) is None:
        # SystemExit with a message: Python prints it to stderr and exits with status 1
        raise SystemExit(
            f"error: '{dot}' is missing: install the package graphviz "
            "(Debian/Ubuntu: sudo apt-get install graphviz)"
        )


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", require_dot)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
