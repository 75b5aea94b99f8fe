"""The exceptions kubescale raises.

Every error is a :class:`KubeScaleError`; most also derive from the builtin a Python user would
catch for that kind of failure (``ValueError``, ``PermissionError``, ``ConnectionError``,
``TimeoutError``). The Rust core maps its one error type onto these classes in one place
(``src/python/errors.rs``).
"""

from __future__ import annotations

from typing import Any, Optional

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
    "LeaseLostError",
    "NamespaceNotAllowedError",
    "NoMatchError",
    "NotFoundError",
    "NotScalableError",
    "PreconditionError",
    "ScaleBatchError",
    "ScalerError",
    "UnauthorizedError",
    "WaitTimeoutError",
]


class KubeScaleError(Exception):
    """Base class of every kubescale error."""


class ConfigError(KubeScaleError):
    """No usable cluster configuration: kubeconfig missing or unreadable, unknown context."""


class InvalidTargetError(KubeScaleError, ValueError):
    """A target is not of the form ``TYPE[.VERSION][.GROUP]/NAME`` or names an invalid object."""


class InvalidValueError(KubeScaleError, ValueError):
    """An argument (namespace, event type, reason...) is out of range."""


class NoMatchError(KubeScaleError, LookupError):
    """The API server serves no resource type of that name."""


class NotScalableError(KubeScaleError):
    """The resource type exists but has no ``scale`` subresource."""


class NamespaceNotAllowedError(KubeScaleError, PermissionError):
    """The call names a namespace outside the handler's watch namespace."""


class ApiError(KubeScaleError):
    """The API server answered with an error.

    Attributes:
        status: The HTTP status code.
        reason: The Kubernetes reason, e.g. ``"NotFound"``.
        message: The server's message.
    """

    def __init__(self, message: str, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


class NotFoundError(ApiError, LookupError):
    """HTTP 404: the object does not exist."""


class ConflictError(ApiError):
    """HTTP 409: the object changed under us (raised only when retries could not resolve it)."""


class ForbiddenError(ApiError, PermissionError):
    """HTTP 403: RBAC does not allow the request."""


class UnauthorizedError(ApiError, PermissionError):
    """HTTP 401: the credentials were not accepted."""


class InvalidError(ApiError, ValueError):
    """HTTP 400 or 422: the server rejected the request as invalid."""


class ApiUnavailableError(ApiError, ConnectionError):
    """The API server could not be reached or did not answer in time.

    Connection refused, TLS failure, timeout, or an HTTP 503/504 answer (``status`` is 0 when
    no answer came).
    """


class PreconditionError(KubeScaleError):
    """The target's replica count was not the one the call required (``current_replicas``, as
    kubectl's ``--current-replicas``); nothing was written.

    Attributes:
        target: The target, as kubectl names it (``deployment.apps/web``).
        expected: The count the call required.
        actual: The count the target had.
    """

    def __init__(self, message: str, target: str = "", expected: int = 0, actual: int = 0) -> None:
        super().__init__(message)
        self.target = target
        self.expected = expected
        self.actual = actual


class ScaleBatchError(KubeScaleError):
    """Some targets of a fleet call failed (raised only with ``raise_on_error=True``).

    Attributes:
        batch: The whole result, every target's entry (a :class:`kubescale.ScaleBatch`).
        errors: The failed entries' exceptions, in order.
    """

    def __init__(self, message: str, batch: Any = None, errors: Optional[list[Any]] = None) -> None:
        super().__init__(message)
        self.batch = batch
        self.errors = list(errors or [])


class WaitTimeoutError(KubeScaleError, TimeoutError):
    """A wait ran out of time.

    Attributes:
        wanted: The replica count waited for.
        seen: The last count seen.
    """

    def __init__(self, message: str, wanted: int = 0, seen: int = 0) -> None:
        super().__init__(message)
        self.wanted = wanted
        self.seen = seen


class HandlerClosedError(KubeScaleError, RuntimeError):
    """The handler was closed, or was created in another process before a fork (then create a
    new handler in this process)."""


class ScalerError(KubeScaleError):
    """A trigger's scaler failed, timed out or gave no usable answer."""


class LeaseLostError(KubeScaleError):
    """A write of the leader-elected loop was not sent: the process could not prove, by its own
    monotonic clock, that it still held its Lease (it was paused, or could not renew in time).
    The loop steps down and competes again; another replica acts meanwhile."""
