"""Support for Python scalers: the ``Scaler`` and ``ScalerHistory`` protocols, and the call
helpers the Rust bridge uses.

A scaler method may be a plain function or a coroutine function. Coroutines run on the event
loop of the async handler that asked (when it is running), else on one background loop thread
shared by the process, so a scaler may keep loop-bound resources (sessions) between calls.
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
import time
from collections.abc import Awaitable, Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Protocol, Union, runtime_checkable

from kubescale._native import Answer

if TYPE_CHECKING:
    # asyncio is imported where a coroutine scaler is first run, so `import kubescale` does not
    # load asyncio and ssl.
    import asyncio

__all__ = ["HistorySample", "Scaler", "ScalerHistory", "ask", "call", "history"]


@runtime_checkable
class Scaler(Protocol):
    """What a trigger type's factory returns. Each method may be ``async``.

    ``close()`` is optional. As in KubeElasti, whose loop never asks it, a scale-up is decided by
    ``should_scale_to_zero()`` returning False; a ``should_scale_from_zero()`` method, if a
    scaler has one, is not called.
    """

    def is_healthy(self) -> Union[bool, Awaitable[bool]]:
        """Whether the data source can be trusted now (False: no scaling this pass)."""
        ...

    def should_scale_to_zero(self) -> Union[bool, Awaitable[bool]]:
        """Whether the target may be (or stay) at zero."""
        ...


class HistorySample(NamedTuple):
    """What a trigger would have answered at one time, for ``replay``.

    Attributes:
        time: When (an aware ``datetime``; a naive one is local time, as ``datetime.timestamp``
            reads it). It counts for the replay step nearest to it.
        healthy: Whether the data source could be trusted then (``is_healthy()``).
        allows_zero: Whether the target could be at zero then (``should_scale_to_zero()``).
        value: The value the scaler compared, if it has one (shown and plotted).
    """

    time: datetime
    healthy: bool
    allows_zero: bool
    value: Optional[float] = None


@runtime_checkable
class ScalerHistory(Protocol):
    """A scaler that can answer for the past, so that ``replay`` can replay its services.

    ``history`` may be ``async`` and may return any iterable (a generator is fine). It may be
    called several times for consecutive windows of one replay. A step with no sample counts
    as unhealthy (no scaling), as a live evaluation that failed would.
    """

    def history(
        self, start: datetime, end: datetime, step: timedelta
    ) -> Union[Iterable[HistorySample], Awaitable[Iterable[HistorySample]]]:
        """The samples from ``start`` to ``end`` (both included), ``step`` apart."""
        ...


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="kubescale-scalers", daemon=True)
        self.thread.start()


_background: Optional[_LoopThread] = None
_background_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _background
    with _background_lock:
        if _background is None:
            _background = _LoopThread()
        return _background.loop


async def _await(aw: Awaitable[Any]) -> Any:
    return await aw


def call(obj: Any, method: str, loop: Optional[asyncio.AbstractEventLoop], timeout: float, *args: Any) -> Any:
    """Calls ``obj.method(*args)``; runs a returned awaitable to completion within ``timeout``
    seconds.

    Raises:
        TypeError: ``obj`` has no such method (``close`` may be missing).
        TimeoutError: the awaitable did not finish in time (it is cancelled).
    """
    fn = getattr(obj, method, None)
    if fn is None:
        if method == "close":
            return None
        raise TypeError(f"{type(obj).__name__} has no method {method}()")
    result = fn(*args)
    if inspect.isawaitable(result):
        import asyncio
        import concurrent.futures

        target = loop if loop is not None and loop.is_running() else _background_loop()
        future = asyncio.run_coroutine_threadsafe(_await(result), target)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"{type(obj).__name__}.{method}() took longer than {timeout:g}s") from None
    return result


def ask(
    factory: Any, metadata: str, cooldown_s: int, loop: Optional[asyncio.AbstractEventLoop], timeout: float
) -> tuple[Optional[Answer], str]:
    """One trigger's evaluation, as the loop asks it: ``factory(metadata, cooldown)``, then
    ``is_healthy()``, then ``should_scale_to_zero()``, then ``close()``, all within ``timeout``
    seconds (coroutines get what is left of it).

    Returns:
        ``(answer, "")``; or, when a step failed, ``(None, "step raised ExceptionType:
        message")`` (a failed ``close()`` is only logged).
    """
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(deadline - time.monotonic(), 0.001)

    try:
        obj = factory(json.loads(metadata), timedelta(seconds=cooldown_s))
    except Exception as e:
        return None, f"the scaler factory raised {type(e).__name__}: {e}"
    try:
        for method in ("is_healthy", "should_scale_to_zero"):
            try:
                said = call(obj, method, loop, left())
            except Exception as e:
                return None, f"{method}() raised {type(e).__name__}: {e}"
            if not isinstance(said, bool):
                why = f"{method}() must return a bool, not {type(said).__name__}"
                return None, f"{method}() raised TypeError: {why}"
            if method == "is_healthy" and not said:
                return Answer.UNHEALTHY, ""
        return (Answer.ALLOWS_ZERO if said else Answer.WANTS_UP), ""
    finally:
        try:
            call(obj, "close", loop, left())
        except Exception as e:
            logging.getLogger("kubescale.scalers").debug("closing a scaler failed: %s", e)


_Step = tuple[Optional[Answer], Optional[float], Optional[str]]


def history(
    factory: Any,
    metadata: str,
    cooldown_s: int,
    start_s: int,
    step_s: int,
    count: int,
    loop: Optional[asyncio.AbstractEventLoop],
    timeout: float,
) -> list[_Step]:
    """One trigger's history over ``count`` steps from ``start_s`` (seconds since the epoch),
    ``step_s`` apart: ``factory(metadata, cooldown)``, then ``history(start, end, step)``, then
    ``close()``, within ``timeout`` seconds.

    Returns:
        One ``(answer, value, note)`` per step; a step without a sample is
        ``(Answer.UNHEALTHY, None, "no sample")``.

    Raises:
        TypeError: The scaler has no ``history`` method, or a sample is not a
            ``HistorySample`` (or a tuple of its fields).
    """
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(deadline - time.monotonic(), 0.001)

    start = datetime.fromtimestamp(start_s, timezone.utc)
    step = timedelta(seconds=step_s)
    obj = factory(json.loads(metadata), timedelta(seconds=cooldown_s))
    try:
        if not callable(getattr(obj, "history", None)):
            raise TypeError(
                f"{type(obj).__name__} has no history(start, end, step) method, so its trigger cannot be "
                "replayed (see kubescale.ScalerHistory)"
            )
        samples = call(obj, "history", loop, left(), start, start + step * (count - 1), step)
        steps: list[_Step] = [(Answer.UNHEALTHY, None, "no sample")] * count
        for raw in samples:
            sample = (
                HistorySample(*raw) if isinstance(raw, tuple) and not isinstance(raw, HistorySample) else raw
            )
            if not isinstance(sample, HistorySample) or not isinstance(sample.time, datetime):
                raise TypeError(
                    f"history() must yield HistorySample(time, healthy, allows_zero, value), not {raw!r}"
                )
            i = round((sample.time.timestamp() - start_s) / step_s)
            if 0 <= i < count:
                if not sample.healthy:
                    steps[i] = (Answer.UNHEALTHY, sample.value, "unhealthy")
                else:
                    answer = Answer.ALLOWS_ZERO if sample.allows_zero else Answer.WANTS_UP
                    steps[i] = (answer, None if sample.value is None else float(sample.value), None)
        return steps
    finally:
        try:
            call(obj, "close", loop, left())
        except Exception as e:
            logging.getLogger("kubescale.scalers").debug("closing a scaler failed: %s", e)
