"""The order of IDs and section numbers wherever this project sorts them: the exports, the
site's pages and a device file's gap analysis. It has no dependencies, so a project that
copies the exporter has it too."""

from __future__ import annotations

import re


def natural_key(text: str) -> tuple:
    """REQ_9 before REQ_10; 5.5.2 after 5.5."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", str(text)) if part)
