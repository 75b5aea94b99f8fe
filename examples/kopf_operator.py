"""A kopf operator that drives kubescale from kopf handlers.

Every ElastiService gets a kopf timer; each tick makes one scale-to-zero decision for that
service with ``check_and_scale_service``, using a scaler written in Python (``file-metric``:
the target may go to zero while the number in a file is below a threshold; replace it with
your queue length, request rate...).

Run it::

    kopf run --standalone --namespace NS examples/kopf_operator.py

with ``KUBECONFIG`` pointing at the cluster (``kubescale.ScaleHandler`` finds it as kubectl does).
An ElastiService for it::

    spec:
      service: web
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
      cooldownPeriod: 60
      triggers:
        - type: file-metric
          metadata: {path: /tmp/web-load, threshold: "1"}
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

import kopf

import kubescale.asyncio

log = logging.getLogger("kubescale.examples.kopf")
TICK = float(os.environ.get("KUBESCALE_TICK", "1.0"))


class FileMetricScaler:
    """Reads a number from a file; zero is allowed while it is below ``threshold``."""

    def __init__(self, metadata: dict[str, Any], cooldown: timedelta) -> None:
        self.path = Path(metadata["path"])
        self.threshold = float(metadata.get("threshold", "1"))

    def _value(self) -> float:
        return float(self.path.read_text().strip() or 0)

    def is_healthy(self) -> bool:
        return self.path.exists()

    async def should_scale_to_zero(self) -> bool:
        return self._value() < self.threshold


handler: Optional[kubescale.asyncio.ScaleHandler] = None


@kopf.on.startup()
async def connect(**_: Any) -> None:
    global handler
    handler = kubescale.asyncio.ScaleHandler()
    handler.register_scaler("file-metric", FileMetricScaler)
    log.info("kubescale connected: %r", handler)


@kopf.on.cleanup()
async def disconnect(**_: Any) -> None:
    if handler is not None:
        handler.close()


@kopf.timer("elasti.truefoundry.com", "v1alpha1", "elastiservices", interval=TICK, idle=0)
async def decide(name: Optional[str], namespace: Optional[str], **_: Any) -> dict[str, Any]:
    assert handler is not None and name is not None
    decision = await handler.check_and_scale_service(name, namespace=namespace)
    if decision.error:
        log.warning("%s: %s", decision.service, decision.error)
    else:
        log.info("%s: %s (%s)", decision.service, decision.direction, decision.reason)
    return {"direction": decision.direction, "error": decision.error}
