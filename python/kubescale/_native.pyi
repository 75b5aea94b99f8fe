"""Type stubs of the native module (hand-written; checked by mypy.stubtest in `make lint`)."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from os import PathLike
from types import TracebackType
from typing import Any, Literal, Optional, Union, final

from kubescale._scalers import Scaler

__all__ = [
    "AsyncScaleHandler",
    "Decision",
    "Resource",
    "Scale",
    "ScaleHandler",
    "ScaleResult",
    "__version__",
    "_shutdown",
    "elastiservice_crd",
    "reset_logging",
]

__version__: str

def reset_logging() -> None: ...
def _shutdown() -> None: ...
def elastiservice_crd() -> str: ...

_Path = Union[str, PathLike[str]]

@final
class Resource:
    @property
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def plural(self) -> str: ...
    @property
    def namespaced(self) -> bool: ...
    @property
    def scalable(self) -> bool: ...
    @property
    def short_names(self) -> list[str]: ...
    @property
    def api_version(self) -> str: ...
    def _repr_html_(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Scale:
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def api_version(self) -> str: ...
    @property
    def spec_replicas(self) -> int: ...
    @property
    def status_replicas(self) -> int: ...
    @property
    def selector(self) -> Optional[str]: ...
    @property
    def resource_version(self) -> str: ...
    def _repr_html_(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class ScaleResult:
    @property
    def target(self) -> str: ...
    @property
    def previous(self) -> int: ...
    @property
    def replicas(self) -> int: ...
    @property
    def changed(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    def _repr_html_(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Decision:
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def direction(self) -> Literal["scale_up", "scale_down", "no_scale"]: ...
    @property
    def reason(self) -> str: ...
    @property
    def error(self) -> Optional[str]: ...
    def _repr_html_(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...

_ScalerFactory = Callable[[dict[str, Any], timedelta], Scaler]

@final
class ScaleHandler:
    def __new__(
        cls,
        namespace: Optional[str] = None,
        *,
        kubeconfig: Optional[_Path] = None,
        context: Optional[str] = None,
        reporter: str = "kubescale",
        timeout: Optional[float] = None,
        record_events: bool = True,
        concurrency: int = 32,
    ) -> ScaleHandler: ...
    @property
    def server(self) -> str: ...
    @property
    def context(self) -> Optional[str]: ...
    @property
    def namespace(self) -> Optional[str]: ...
    @property
    def default_namespace(self) -> str: ...
    @property
    def lock_count(self) -> int: ...
    def close(self) -> None: ...
    def reset_discovery(self) -> None: ...
    def __enter__(self) -> ScaleHandler: ...
    def __exit__(
        self,
        *_exc: Union[type[BaseException], BaseException, TracebackType, None],
    ) -> Literal[False]: ...
    def resolve(self, type: str) -> Resource: ...
    def resources(self, *, scalable: bool = False) -> list[Resource]: ...
    def get_scale(
        self,
        target: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        api_version: Optional[str] = None,
        kind: Optional[str] = None,
        name: Optional[str] = None,
    ) -> Scale: ...
    def scale(
        self,
        target: Optional[str] = None,
        replicas: Optional[int] = None,
        *,
        namespace: Optional[str] = None,
        at_least: bool = False,
        dry_run: bool = False,
        api_version: Optional[str] = None,
        kind: Optional[str] = None,
        name: Optional[str] = None,
    ) -> ScaleResult: ...
    def scale_to_zero(
        self,
        target: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        api_version: Optional[str] = None,
        kind: Optional[str] = None,
        name: Optional[str] = None,
    ) -> ScaleResult: ...
    def scale_from_zero(
        self,
        target: Optional[str] = None,
        min_replicas: Optional[int] = None,
        *,
        namespace: Optional[str] = None,
        restore: bool = True,
        api_version: Optional[str] = None,
        kind: Optional[str] = None,
        name: Optional[str] = None,
    ) -> ScaleResult: ...
    def wait_for_replicas(
        self,
        target: Optional[str] = None,
        replicas: Optional[int] = None,
        *,
        ready: bool = True,
        timeout: float = 60.0,
        namespace: Optional[str] = None,
        api_version: Optional[str] = None,
        kind: Optional[str] = None,
        name: Optional[str] = None,
    ) -> Scale: ...
    def pause_keda(self, scaled_object: str, *, namespace: Optional[str] = None) -> bool: ...
    def resume_keda(self, scaled_object: str, *, namespace: Optional[str] = None) -> bool: ...
    def record_event(
        self,
        target: str,
        type: Literal["Normal", "Warning"],
        reason: str,
        note: str,
        *,
        namespace: Optional[str] = None,
        action: str = "Scale",
    ) -> None: ...
    def events(self, target: str, *, namespace: Optional[str] = None) -> list[dict[str, Any]]: ...
    def register_scaler(self, type: str, factory: _ScalerFactory, *, timeout: float = 10.0) -> None: ...
    def install_crds(self) -> list[str]: ...
    def check_and_scale(self) -> list[Decision]: ...
    def check_and_scale_service(self, name: str, *, namespace: Optional[str] = None) -> Decision: ...
    def run(
        self,
        polling_interval: Optional[float] = None,
        *,
        leader_election: bool = False,
        lease_name: str = "kubescale-scale-to-zero",
        lease_namespace: Optional[str] = None,
        lease_duration: float = 15.0,
    ) -> None: ...

@final
class AsyncScaleHandler:
    def __new__(
        cls,
        namespace: Optional[str] = None,
        *,
        kubeconfig: Optional[_Path] = None,
        context: Optional[str] = None,
        reporter: str = "kubescale",
        timeout: Optional[float] = None,
        record_events: bool = True,
        concurrency: int = 32,
    ) -> AsyncScaleHandler: ...
    @property
    def server(self) -> str: ...
    @property
    def context(self) -> Optional[str]: ...
    @property
    def namespace(self) -> Optional[str]: ...
    @property
    def default_namespace(self) -> str: ...
    @property
    def lock_count(self) -> int: ...
    def close(self) -> None: ...
    def reset_discovery(self) -> None: ...
    def __aenter__(self) -> Awaitable[AsyncScaleHandler]: ...
    def __aexit__(
        self,
        *_exc: Union[type[BaseException], BaseException, TracebackType, None],
    ) -> Awaitable[Literal[False]]: ...
    def resolve(self, type: str) -> Awaitable[Resource]: ...
    def resources(self, *, scalable: bool = False) -> Awaitable[list[Resource]]: ...
    def get_scale(
        self,
        target: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        api_version: Optional[str] = None,
        kind: Optional[str] = None,
        name: Optional[str] = None,
    ) -> Awaitable[Scale]: ...
    def scale(
        self,
        target: Optional[str] = None,
        replicas: Optional[int] = None,
        *,
        namespace: Optional[str] = None,
        at_least: bool = False,
        dry_run: bool = False,
        api_version: Optional[str] = None,
        kind: Optional[str] = None,
        name: Optional[str] = None,
    ) -> Awaitable[ScaleResult]: ...
    def scale_to_zero(
        self,
        target: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        api_version: Optional[str] = None,
        kind: Optional[str] = None,
        name: Optional[str] = None,
    ) -> Awaitable[ScaleResult]: ...
    def scale_from_zero(
        self,
        target: Optional[str] = None,
        min_replicas: Optional[int] = None,
        *,
        namespace: Optional[str] = None,
        restore: bool = True,
        api_version: Optional[str] = None,
        kind: Optional[str] = None,
        name: Optional[str] = None,
    ) -> Awaitable[ScaleResult]: ...
    def wait_for_replicas(
        self,
        target: Optional[str] = None,
        replicas: Optional[int] = None,
        *,
        ready: bool = True,
        timeout: float = 60.0,
        namespace: Optional[str] = None,
        api_version: Optional[str] = None,
        kind: Optional[str] = None,
        name: Optional[str] = None,
    ) -> Awaitable[Scale]: ...
    def pause_keda(self, scaled_object: str, *, namespace: Optional[str] = None) -> Awaitable[bool]: ...
    def resume_keda(self, scaled_object: str, *, namespace: Optional[str] = None) -> Awaitable[bool]: ...
    def record_event(
        self,
        target: str,
        type: Literal["Normal", "Warning"],
        reason: str,
        note: str,
        *,
        namespace: Optional[str] = None,
        action: str = "Scale",
    ) -> Awaitable[None]: ...
    def events(self, target: str, *, namespace: Optional[str] = None) -> Awaitable[list[dict[str, Any]]]: ...
    def register_scaler(self, type: str, factory: _ScalerFactory, *, timeout: float = 10.0) -> None: ...
    def install_crds(self) -> Awaitable[list[str]]: ...
    def check_and_scale(self) -> Awaitable[list[Decision]]: ...
    def check_and_scale_service(
        self, name: str, *, namespace: Optional[str] = None
    ) -> Awaitable[Decision]: ...
    def run(
        self,
        polling_interval: Optional[float] = None,
        *,
        leader_election: bool = False,
        lease_name: str = "kubescale-scale-to-zero",
        lease_namespace: Optional[str] = None,
        lease_duration: float = 15.0,
    ) -> Awaitable[None]: ...
