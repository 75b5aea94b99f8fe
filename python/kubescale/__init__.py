"""kubescale: scale Kubernetes workloads from Python, with a Rust core.

The blocking API::

    import kubescale

    with kubescale.ScaleHandler() as handler:          # kubeconfig / in-cluster, as kubectl
        handler.scale("deployment/web", 3)
        handler.wait_for_replicas("deployment/web")

The same methods as coroutines live in :mod:`kubescale.asyncio`.
"""

from kubescale._native import (
    Answer,
    BatchEntry,
    CooldownPoint,
    CooldownRecommendation,
    Decision,
    Event,
    Resource,
    Scale,
    ScaleHandler,
    ScaleResult,
    __version__,
    elastiservice_crd,
    reset_logging,
)
from kubescale._replay import Replay, ReplayComparison, ReplayStep, ReplaySummary, TriggerSample
from kubescale._scalers import HistorySample, Scaler, ScalerHistory
from kubescale._types import Decisions, ScaleBatch
from kubescale.errors import (
    ApiError,
    ApiUnavailableError,
    ConfigError,
    ConflictError,
    ForbiddenError,
    HandlerClosedError,
    InvalidError,
    InvalidTargetError,
    InvalidValueError,
    KubeScaleError,
    LeaseLostError,
    NamespaceNotAllowedError,
    NoMatchError,
    NotFoundError,
    NotScalableError,
    PreconditionError,
    ScaleBatchError,
    ScalerError,
    UnauthorizedError,
    WaitTimeoutError,
)

__all__ = [
    "Answer",
    "ApiError",
    "ApiUnavailableError",
    "BatchEntry",
    "ConfigError",
    "ConflictError",
    "CooldownPoint",
    "CooldownRecommendation",
    "Decision",
    "Decisions",
    "Event",
    "ForbiddenError",
    "HandlerClosedError",
    "HistorySample",
    "InvalidError",
    "InvalidTargetError",
    "InvalidValueError",
    "KubeScaleError",
    "LeaseLostError",
    "NamespaceNotAllowedError",
    "NoMatchError",
    "NotFoundError",
    "NotScalableError",
    "PreconditionError",
    "Replay",
    "ReplayComparison",
    "ReplayStep",
    "ReplaySummary",
    "Resource",
    "Scale",
    "ScaleBatch",
    "ScaleBatchError",
    "ScaleHandler",
    "ScaleResult",
    "Scaler",
    "ScalerError",
    "ScalerHistory",
    "TriggerSample",
    "UnauthorizedError",
    "WaitTimeoutError",
    "__version__",
    "elastiservice_crd",
    "reset_logging",
]
