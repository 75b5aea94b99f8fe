"""Plain typed values returned by the handlers, beside the native ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubescale._native import html_table

if TYPE_CHECKING:
    from kubescale._native import Decision

__all__ = ["Decisions"]


class Decisions(list["Decision"]):
    """The decisions of one scale-to-zero pass: a ``list`` of ``Decision`` that a notebook shows
    as one table (service, direction, reason, error, and what was done or would be done)."""

    def _repr_html_(self) -> str:
        dry = any(d.dry_run for d in self)
        head = ["service", "direction", "reason", "error", "would do" if dry else "done"]
        rows = [[d.service, d.direction, d.reason, d.error or "", "; ".join(d.actions)] for d in self]
        return html_table("dry run: nothing was written" if dry else "scale-to-zero pass", head, rows)
