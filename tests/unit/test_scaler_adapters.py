"""How the loop asks a Python scaler: sync and async methods, errors, wrong types, time limits."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubescale import Answer, HistorySample
from kubescale import _scalers as scalers


class Fixed:
    closed = 0

    def __init__(self, metadata: dict[str, Any], cooldown: timedelta) -> None:
        self.healthy = metadata.get("healthy", True)
        self.zero = metadata.get("zero", True)
        assert cooldown == timedelta(seconds=300)

    def is_healthy(self) -> Any:
        return self.healthy

    def should_scale_to_zero(self) -> Any:
        return self.zero

    def close(self) -> None:
        Fixed.closed += 1


class Async(Fixed):
    async def is_healthy(self) -> Any:
        await asyncio.sleep(0)
        return self.healthy

    async def should_scale_to_zero(self) -> Any:
        await asyncio.sleep(0)
        return self.zero


def ask(factory: Any, **metadata: Any) -> tuple[Any, str]:
    return scalers.ask(factory, json.dumps(metadata), 300, None, 5.0)


@pytest.mark.parametrize("factory", [Fixed, Async])
def test_answers_of_a_sync_and_an_async_scaler(factory: Any) -> None:
    assert ask(factory) == (Answer.ALLOWS_ZERO, "")
    assert ask(factory, zero=False) == (Answer.WANTS_UP, "")
    assert ask(factory, healthy=False) == (Answer.UNHEALTHY, "")


def test_close_is_called_after_every_answer() -> None:
    Fixed.closed = 0
    ask(Fixed)
    ask(Fixed, healthy=False)
    assert Fixed.closed == 2


def test_a_non_bool_answer_is_a_type_error_naming_the_method() -> None:
    answer, why = ask(Fixed, zero="yes")
    assert answer is None
    assert (
        why == "should_scale_to_zero() raised TypeError: should_scale_to_zero() must return a bool, not str"
    )


def test_a_raising_factory_and_a_raising_method_are_reported() -> None:
    def broken(metadata: Any, cooldown: Any) -> Any:
        raise KeyError("queue")

    assert ask(broken) == (None, "the scaler factory raised KeyError: 'queue'")

    class Raises(Fixed):
        def is_healthy(self) -> Any:
            raise RuntimeError("no metrics")

    assert ask(Raises) == (None, "is_healthy() raised RuntimeError: no metrics")


def test_a_coroutine_that_never_returns_times_out() -> None:
    class Hangs(Fixed):
        async def is_healthy(self) -> Any:
            await asyncio.sleep(3600)

    started = time.monotonic()
    answer, why = scalers.ask(Hangs, "{}", 300, None, 0.2)
    assert answer is None
    assert "took longer than" in why
    assert time.monotonic() - started < 30


def test_history_places_samples_on_their_steps() -> None:
    start = 1_700_000_000
    t = datetime.fromtimestamp(start, timezone.utc)

    class WithHistory(Fixed):
        def history(self, begin: datetime, end: datetime, step: timedelta) -> list[Any]:
            assert (begin, end, step) == (t, t + timedelta(minutes=3), timedelta(minutes=1))
            return [
                HistorySample(t, True, True, 0.1),
                (t + timedelta(minutes=1), True, False, 2),  # a plain tuple
                HistorySample(t + timedelta(minutes=3), False, False, None),
                HistorySample(t + timedelta(minutes=9), True, True, 0.0),  # outside: dropped
            ]

    steps = scalers.history(WithHistory, "{}", 300, start, 60, 4, None, 5.0)
    assert steps == [
        (Answer.ALLOWS_ZERO, 0.1, None),
        (Answer.WANTS_UP, 2.0, None),
        (Answer.UNHEALTHY, None, "no sample"),
        (Answer.UNHEALTHY, None, "unhealthy"),
    ]


def test_history_needs_a_history_method_and_samples() -> None:
    with pytest.raises(TypeError, match="has no history"):
        scalers.history(Fixed, "{}", 300, 0, 60, 2, None, 5.0)

    class Bad(Fixed):
        def history(self, *_: Any) -> list[Any]:
            return ["nonsense"]

    with pytest.raises(TypeError, match="HistorySample"):
        scalers.history(Bad, "{}", 300, 0, 60, 2, None, 5.0)
