"""Filters on Sphinx's log, to complete its messages (a location, a hint) before they are
shown.

Sphinx's warnings reach the handlers of the "sphinx" logger; a filter put first on each
handler sees a record before the handler formats it, also before ``-W`` turns a warning into
an error. Every handler runs its filters, so a filter that changes a record marks it and
leaves a marked record alone (``OnceFilter``)."""

from __future__ import annotations

import logging


class OnceFilter(logging.Filter):
    """A filter that changes each record once, however many handlers show it: subclasses
    implement ``complete(record)``."""

    marker = "kb_completed"

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.marker = f"kb_completed_by_{cls.__name__}"  # two filters each complete a record

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, self.marker, False):
            setattr(record, self.marker, True)
            self.complete(record)
        return True

    def complete(self, record: logging.LogRecord) -> None:
        raise NotImplementedError


def install(log_filter: logging.Filter) -> None:
    """Put ``log_filter`` first on every handler of Sphinx's log (call it at builder-inited,
    when Sphinx has set its handlers up)."""
    for handler in logging.getLogger("sphinx").handlers:
        handler.filters.insert(0, log_filter)
