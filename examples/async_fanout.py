"""Scale many targets at once with asyncio: one handler, one connection pool, one runtime.

    python examples/async_fanout.py -n my-namespace --prefix web- --count 100 --replicas 2

Scales ``deployment/web-0`` ... ``deployment/web-99`` concurrently and reports the time taken.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import kubescale
from kubescale.asyncio import ScaleHandler


async def fan_out(namespace: str, prefix: str, count: int, replicas: int) -> list[kubescale.ScaleResult]:
    # No semaphore needed: the handler keeps at most `concurrency` (default 32) operations in
    # flight; the others queue for a place.
    async with ScaleHandler(namespace) as handler:
        targets = [f"deployment/{prefix}{i}" for i in range(count)]
        return list(await asyncio.gather(*(handler.scale(t, replicas) for t in targets)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--namespace", required=True)
    parser.add_argument("--prefix", default="web-")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    results = asyncio.run(fan_out(args.namespace, args.prefix, args.count, args.replicas))
    elapsed = time.perf_counter() - started
    changed = sum(r.changed for r in results)
    print(f"scaled {len(results)} targets ({changed} changed) to {args.replicas} in {elapsed:.2f}s")


if __name__ == "__main__":
    main()
