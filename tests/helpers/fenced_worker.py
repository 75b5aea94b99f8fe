"""A leader-elected loop process for the fencing tests.

Usage: python fenced_worker.py KUBECONFIG NAMESPACE MARKER_FILE
Runs the scale-to-zero loop with leader election (Lease `fenced`, 3 s) over services whose
`slow-idle` trigger always allows zero after 0.15 s; each answer appends "PID TIME" to
MARKER_FILE. SIGTERM closes the handler.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import timedelta
from typing import Any

import kubescale


class SlowIdle:
    def __init__(self, metadata: dict[str, Any], cooldown: timedelta) -> None:
        self.marker = MARKER

    def is_healthy(self) -> bool:
        time.sleep(0.15)
        with open(self.marker, "a") as f:
            f.write(f"{os.getpid()} {time.time()}\n")
        return True

    def should_scale_to_zero(self) -> bool:
        return True


MARKER = ""


def main() -> None:
    global MARKER
    kubeconfig, namespace, MARKER = sys.argv[1:4]
    handler = kubescale.ScaleHandler(namespace, kubeconfig=kubeconfig)
    handler.register_scaler("slow-idle", SlowIdle)
    signal.signal(signal.SIGTERM, lambda *_: handler.close())
    handler.run(0.5, leader_election=True, lease_name="fenced", lease_duration=3.0)


if __name__ == "__main__":
    main()
