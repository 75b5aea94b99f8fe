"""A scaler that records how many of its calls run at once, and one pass of the loop over the
services that use it (trigger type ``overlap``).

Run as a script, the pass runs in a new process, whose scaler threads are all new:
``python overlap.py NAMESPACE KUBECONFIG SCALER_CONCURRENCY SECONDS SERVICES`` prints the most
calls that ran at once.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import timedelta
from typing import Any

import kubescale


class Overlap:
    """Each health check waits `seconds` with the GIL released (a metric query)."""

    lock = threading.Lock()
    now = 0
    most = 0
    seconds = 0.3

    def __init__(self, metadata: dict[str, Any], cooldown: timedelta) -> None:
        pass

    def is_healthy(self) -> bool:
        with Overlap.lock:
            Overlap.now += 1
            Overlap.most = max(Overlap.most, Overlap.now)
        time.sleep(Overlap.seconds)
        with Overlap.lock:
            Overlap.now -= 1
        return True

    def should_scale_to_zero(self) -> bool:
        return False


def most_calls_at_once(
    namespace: str, kubeconfig: str, scaler_concurrency: int, seconds: float, services: int
) -> int:
    """One pass; checks that each of the `services` decisions went without error, and returns
    how many scaler calls ran at once at most."""
    Overlap.most, Overlap.seconds = 0, seconds
    with kubescale.ScaleHandler(namespace, kubeconfig=kubeconfig, scaler_concurrency=scaler_concurrency) as h:
        h.register_scaler("overlap", Overlap)
        decisions = h.check_and_scale()
    assert [d.error for d in decisions] == [None] * services, decisions
    return Overlap.most


if __name__ == "__main__":
    ns, config, concurrency, seconds, services = sys.argv[1:6]
    print(most_calls_at_once(ns, config, int(concurrency), float(seconds), int(services)))
