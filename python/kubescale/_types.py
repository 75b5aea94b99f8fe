"""Plain typed values returned by the handlers."""

from __future__ import annotations

from typing import Literal, TypedDict

__all__ = ["Event"]


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
