"""The asyncio twin of :mod:`kubescale`: the same names, with awaitable methods.

Example::

    from kubescale.asyncio import ScaleHandler

    async with ScaleHandler() as handler:
        await handler.scale("deployment/web", 3)
"""

from kubescale._native import AsyncScaleHandler as ScaleHandler
from kubescale._native import Decision, Event, Resource, Scale, ScaleResult
from kubescale._types import Decisions

__all__ = ["Decision", "Decisions", "Event", "Resource", "Scale", "ScaleHandler", "ScaleResult"]
