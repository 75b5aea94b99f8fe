"""A process running the scale-to-zero loop with leader election, for the leader tests.

Usage: python loop_worker.py KUBECONFIG NAMESPACE MARKER_FILE [PASS_SECONDS]
Each pass it leads, its scaler appends "PID start TIME" to MARKER_FILE, sleeps PASS_SECONDS
(default 0), then appends "PID end TIME". SIGTERM closes the handler, as `kubescale run` does.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import timedelta
from typing import Any

import kubescale

PASS_SECONDS = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0


class PidRecorder:
    def __init__(self, metadata: dict[str, Any], cooldown: timedelta) -> None:
        self.marker = metadata["marker"]

    def _note(self, what: str) -> None:
        with open(self.marker, "a") as f:
            f.write(f"{os.getpid()} {what} {time.time()}\n")

    def is_healthy(self) -> bool:
        self._note("start")
        time.sleep(PASS_SECONDS)
        self._note("end")
        return True

    def should_scale_to_zero(self) -> bool:
        return False


def main() -> None:
    kubeconfig, namespace, _marker = sys.argv[1:4]
    handler = kubescale.ScaleHandler(namespace, kubeconfig=kubeconfig)
    handler.register_scaler("pid-recorder", PidRecorder, timeout=PASS_SECONDS + 10)
    signal.signal(signal.SIGTERM, lambda *_: handler.close())
    handler.run(0.3, leader_election=True, lease_name="loop-test", lease_duration=3.0)


if __name__ == "__main__":
    main()
