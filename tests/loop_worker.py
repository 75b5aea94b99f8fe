"""A process running the scale-to-zero loop with leader election, for test_leader_election.

Usage: python loop_worker.py KUBECONFIG NAMESPACE MARKER_FILE
Each pass it leads, its scaler appends this process's pid to MARKER_FILE.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Any

import kubescale


class PidRecorder:
    def __init__(self, metadata: dict[str, Any], cooldown: timedelta) -> None:
        self.marker = metadata["marker"]

    def is_healthy(self) -> bool:
        with open(self.marker, "a") as f:
            f.write(f"{os.getpid()}\n")
        return True

    def should_scale_to_zero(self) -> bool:
        return False

    def should_scale_from_zero(self) -> bool:
        return True


def main() -> None:
    kubeconfig, namespace, _marker = sys.argv[1:4]
    handler = kubescale.ScaleHandler(namespace, kubeconfig=kubeconfig)
    handler.register_scaler("pid-recorder", PidRecorder)
    handler.run(0.3, leader_election=True, lease_name="loop-test", lease_duration=3.0)


if __name__ == "__main__":
    main()
