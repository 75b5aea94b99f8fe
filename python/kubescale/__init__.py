"""kubescale: scale Kubernetes workloads from Python, with a Rust core.

The blocking API::

    import kubescale

    with kubescale.ScaleHandler() as handler:          # kubeconfig / in-cluster, as kubectl
        handler.scale("deployment/web", 3)
        handler.wait_for_replicas("deployment/web")

The same methods as coroutines live in :mod:`kubescale.asyncio`.
"""

from kubescale import errors
from kubescale._native import (
    Answer,
    BatchEntry,
    CooldownPoint,
    CooldownRecommendation,
    Decision,
    Event,
    Replay,
    ReplayComparison,
    ReplayStep,
    ReplaySummary,
    Resource,
    Scale,
    ScaleHandler,
    ScaleResult,
    TriggerSample,
    __version__,
    elastiservice_crd,
    reset_logging,
)
from kubescale._scalers import HistorySample, Scaler, ScalerHistory
from kubescale._types import Decisions, ScaleBatch
from kubescale.errors import *  # noqa: F403 (its __all__ is added to this one below)

__all__ = [
    "Answer",
    "BatchEntry",
    "CooldownPoint",
    "CooldownRecommendation",
    "Decision",
    "Decisions",
    "Event",
    "HistorySample",
    "Replay",
    "ReplayComparison",
    "ReplayStep",
    "ReplaySummary",
    "Resource",
    "Scale",
    "ScaleBatch",
    "ScaleHandler",
    "ScaleResult",
    "Scaler",
    "ScalerHistory",
    "TriggerSample",
    "__version__",
    "elastiservice_crd",
    "reset_logging",
]
__all__ += errors.__all__  # the exceptions
