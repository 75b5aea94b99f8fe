"""Plain typed values returned by the handlers."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Literal, TypedDict

if TYPE_CHECKING:
    from kubescale._native import Decision

__all__ = ["Decisions", "Event"]


class Event(TypedDict):
    """An ``events.k8s.io/v1`` Event, as ``ScaleHandler.events()`` lists it (a plain ``dict``).

    Keys:
        type: ``"Normal"`` or ``"Warning"``.
        reason: e.g. ``"SuccessToScale"``.
        action: e.g. ``"Scale"``.
        note: The human-readable text (the newest of a series).
        count: How often it happened (the series count).
        last_time: RFC 3339 time of the last occurrence.
        reporter: The reporting controller.
    """

    type: Literal["Normal", "Warning"]
    reason: str
    action: str
    note: str
    count: int
    last_time: str
    reporter: str


class Decisions(list["Decision"]):
    """The decisions of one scale-to-zero pass: a ``list`` of ``Decision`` that a notebook shows
    as one table (service, direction, reason, error, and what was done or would be done)."""

    def _repr_html_(self) -> str:
        dry = any(d.dry_run for d in self)
        head = ["service", "direction", "reason", "error", "would do" if dry else "done"]
        rows = [[d.service, d.direction, d.reason, d.error or "", "; ".join(d.actions)] for d in self]
        cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        caption = "dry run: nothing was written" if dry else "scale-to-zero pass"
        header = "".join(f'<th style="text-align:left">{h}</th>' for h in head)
        return f"<table><caption>{caption}</caption><tr>{header}</tr>{cells}</table>"
