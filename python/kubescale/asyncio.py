"""The asyncio twin of :mod:`kubescale`: the same names, with awaitable methods.

Example::

    from kubescale.asyncio import ScaleHandler

    async with ScaleHandler() as handler:
        await handler.scale("deployment/web", 3)
"""

from kubescale._native import AsyncScaleHandler as ScaleHandler
from kubescale._native import Decision, Resource, Scale, ScaleResult
from kubescale._types import Decisions, Event

__all__ = ["Decision", "Decisions", "Event", "Resource", "Scale", "ScaleHandler", "ScaleResult"]
