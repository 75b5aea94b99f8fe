"""One replica of the sharded loop for benches/shards.py.

Usage: python shard_worker.py KUBECONFIG NAMESPACE io|cpu SHARDS
Its `work` scaler waits 20 ms (io: the GIL released, as in an I/O-bound metric query) or burns
2 ms of CPU holding the GIL (cpu), then allows zero. Serves its metrics on a free port and
prints the address on its first line.
"""

from __future__ import annotations

import signal
import sys
import time
from datetime import timedelta
from typing import Any

import kubescale

WORK = sys.argv[3]


class Work:
    def __init__(self, metadata: dict[str, Any], cooldown: timedelta) -> None:
        pass

    def is_healthy(self) -> bool:
        if WORK == "io":
            time.sleep(0.020)
        else:
            end = time.perf_counter() + 0.002
            while time.perf_counter() < end:
                pass
        return True

    def should_scale_to_zero(self) -> bool:
        return True


def main() -> None:
    kubeconfig, namespace, _work, shards = sys.argv[1:5]
    handler = kubescale.ScaleHandler(namespace, kubeconfig=kubeconfig, record_events=False)
    handler.register_scaler("work", Work)
    print(handler.serve_metrics("127.0.0.1:0"), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: handler.close())
    n = int(shards)
    handler.run(0.5, leader_election=n == 1, lease_name="bench", lease_duration=15.0, shards=n)


if __name__ == "__main__":
    main()
