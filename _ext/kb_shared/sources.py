"""What a message's location says about the need written there: a message that names a file
and line (``path:line``) of a need directive, but not the need, gets its type and ID from the
directive itself (sphinx-needs' "Need could not be created" names neither)."""

from __future__ import annotations

import re
from pathlib import Path

# the opening line of a need directive (its name is the need type), in reStructuredText or MyST
DIRECTIVE = re.compile(r"\s*(?:\.\. (?P<rst>\w+)::|[`:]{3,}\{(?P<md>\w+)\})")
NOT_CREATED = "Need could not be created:"


def need_at(location) -> tuple[str | None, str | None]:
    """The type (directive name) and ``:id:`` of the need directive starting at 'path:line'."""
    if not isinstance(location, str) or ":" not in location:
        return None, None
    path, _, line = location.rpartition(":")
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()[int(line) - 1:int(line) + 30]
    except (OSError, ValueError):
        return None, None
    opening = DIRECTIVE.match(lines[0]) if lines else None
    need_type = (opening["rst"] or opening["md"]) if opening else None
    for text in lines[1:]:
        if m := re.match(r"\s*:id:\s*(\S+)", text):
            return need_type, m.group(1)
        if not text.strip():  # the options end at the first blank line
            break
    return need_type, None


def name_the_need(message: str, location) -> tuple[str, str | None, str | None]:
    """The message with the need's ID after "Need", and the need's type and ID."""
    need_type, need_id = need_at(location)
    if need_id and message.startswith(NOT_CREATED):
        message = message.replace(NOT_CREATED, f"Need '{need_id}' could not be created:", 1)
    return message, need_type, need_id
