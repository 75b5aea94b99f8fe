"""What a replay's result costs in Python: a week at one-minute steps (10,080 steps) built by
hand (``Replay._example``), its steps read, its plot, notebook view and dict, medians of 7. No
cluster.

    .venv/bin/python benches/replay_objects.py
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import kubescale


def median_ms(f: Callable[[], object], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    n = 7 * 24 * 60
    values: list[float | None] = [float(i % 97) for i in range(n)]
    replicas = [2 if v and v > 0.5 else 0 for v in values]
    replay = kubescale.Replay._example(replicas, values)
    build = median_ms(lambda: kubescale.Replay._example(replicas, values).steps)
    print(f"built, and .steps read       {build:7.1f} ms")
    print(f"plot_svg()                    {median_ms(replay.plot_svg):7.1f} ms")
    print(f"_repr_html_()                 {median_ms(replay._repr_html_):7.1f} ms")
    print(f"to_dict()                     {median_ms(replay.to_dict):7.1f} ms")


if __name__ == "__main__":
    main()
