"""kubescale: scale Kubernetes workloads from Python, with a Rust core.

The blocking API::

    import kubescale

    with kubescale.ScaleHandler() as handler:          # kubeconfig / in-cluster, as kubectl
        handler.scale("deployment/web", 3)
        handler.wait_for_replicas("deployment/web")

The same methods as coroutines live in :mod:`kubescale.asyncio`.
"""

from kubescale._native import Resource, Scale, ScaleHandler, ScaleResult, __version__, reset_logging
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
    NamespaceNotAllowedError,
    NoMatchError,
    NotFoundError,
    NotScalableError,
    UnauthorizedError,
    WaitTimeoutError,
)

__all__ = [
    "ApiError",
    "ApiUnavailableError",
    "ConfigError",
    "ConflictError",
    "ForbiddenError",
    "HandlerClosedError",
    "InvalidError",
    "InvalidTargetError",
    "InvalidValueError",
    "KubeScaleError",
    "NamespaceNotAllowedError",
    "NoMatchError",
    "NotFoundError",
    "NotScalableError",
    "Resource",
    "Scale",
    "ScaleHandler",
    "ScaleResult",
    "UnauthorizedError",
    "WaitTimeoutError",
    "__version__",
    "reset_logging",
]
