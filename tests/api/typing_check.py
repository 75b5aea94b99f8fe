"""Checked by ``mypy --strict`` (not run): the public API's types as a user sees them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import kubescale
import kubescale.asyncio


class Always:
    def __init__(self, metadata: dict[str, Any], cooldown: timedelta) -> None:
        self.cooldown = cooldown

    def is_healthy(self) -> bool:
        return True

    async def should_scale_to_zero(self) -> bool:
        return True

    def should_scale_from_zero(self) -> bool:
        return False


def sync_api(handler: kubescale.ScaleHandler) -> int:
    result: kubescale.ScaleResult = handler.scale("deployment/web", 3, namespace="ns", at_least=True)
    scale: kubescale.Scale = handler.get_scale(api_version="apps/v1", kind="Deployment", name="web")
    resource: kubescale.Resource = handler.resolve("deploy")
    kinds: list[kubescale.Resource] = handler.resources(scalable=True)
    handler.register_scaler("always", Always)
    decisions: list[kubescale.Decision] = handler.check_and_scale()
    one: kubescale.Decision = handler.check_and_scale_service("web")
    events: list[kubescale.Event] = handler.events("deployment/web")
    note: str = events[0].note if events else ""
    count: int = events[0].count if events else 0
    paused: bool = handler.pause_keda("web-so")
    scaler: kubescale.Scaler = Always({}, timedelta(0))
    assert isinstance(scaler, kubescale.Scaler)
    return (
        result.replicas
        + len(note)
        + count
        + scale.spec_replicas
        + len(resource.short_names)
        + len(kinds)
        + len(decisions)
        + len(one.reason)
        + len(events)
        + int(paused)
    )


async def async_api() -> int:
    async with kubescale.asyncio.ScaleHandler("ns", kubeconfig="/tmp/kubeconfig", timeout=5.0) as h:
        results = await asyncio.gather(*(h.scale(f"deployment/web-{i}", 2) for i in range(3)))
        waited: kubescale.Scale = await h.wait_for_replicas("deployment/web-0", timeout=10)
        return sum(r.replicas for r in results) + waited.status_replicas


def errors() -> None:
    try:
        kubescale.ScaleHandler().scale("deployment/web", 1)
    except kubescale.NotFoundError as e:
        print(e.status, e.reason, e.message)
    except kubescale.WaitTimeoutError as e:
        print(e.wanted, e.seen)
    except kubescale.KubeScaleError:
        raise


def target_forms_are_checked(handler: kubescale.ScaleHandler) -> None:
    """A call without a target, or with half of the keyword form, does not type-check (mypy
    --strict reports an unused `type: ignore`, so these lines fail the lint if they pass)."""
    handler.scale(replicas=3)  # type: ignore[call-overload]
    handler.get_scale(kind="Deployment", name="web")  # type: ignore[call-overload]
    handler.scale_to_zero()  # type: ignore[call-overload]
    handler.scale("deploy/web", 2, api_version="apps/v1")  # type: ignore[call-overload]
