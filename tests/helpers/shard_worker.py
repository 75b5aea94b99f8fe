"""A replica of a sharded scale-to-zero loop, for the shard tests.

Usage: python shard_worker.py KUBECONFIG NAMESPACE DIR SHARDS
Its `shard-recorder` scaler appends "PID SERVICE TIME" to DIR/asked.log at each evaluation and
allows zero while DIR/zero exists. Passes every 0.5 s, 3 s Leases named `shards-<i>`. SIGTERM
closes the handler, as `kubescale run` does.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import timedelta
from typing import Any

import kubescale


class ShardRecorder:
    def __init__(self, metadata: dict[str, Any], cooldown: timedelta) -> None:
        self.dir = metadata["dir"]
        self.service = metadata["service"]

    def is_healthy(self) -> bool:
        with open(os.path.join(self.dir, "asked.log"), "a") as f:
            f.write(f"{os.getpid()} {self.service} {time.time()}\n")
        return True

    def should_scale_to_zero(self) -> bool:
        return os.path.exists(os.path.join(self.dir, "zero"))


def main() -> None:
    kubeconfig, namespace, _dir, shards = sys.argv[1:5]
    handler = kubescale.ScaleHandler(namespace, kubeconfig=kubeconfig)
    handler.register_scaler("shard-recorder", ShardRecorder)
    signal.signal(signal.SIGTERM, lambda *_: handler.close())
    handler.run(0.5, lease_name="shards", lease_duration=3.0, shards=int(shards))


if __name__ == "__main__":
    main()
