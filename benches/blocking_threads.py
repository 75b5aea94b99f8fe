"""Where a blocking handler's client CPU goes when a pool of threads calls it: CPU per change of
the tokio worker and of the Python threads (each thread's run time from
``/proc/self/task/*/schedstat``), the first handler's round against later ones in the same
process (a thread's first calls set up its allocator heap and thread-locals), and peak RSS.

Starts its own local cluster (no controller-manager) with 200 Deployments, then in one process
keeps a pool of ``--threads`` threads and, ``--reps`` times, makes a handler and scales every
Deployment four times (800 changes, as RESULTS.md's concurrent workload), Events on.

    .venv/bin/python benches/blocking_threads.py --threads 128 --reps 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics

from clients import cpu_seconds, run_sync, thread_pool

import kubescale
from kubescale.testing import LocalCluster

TARGETS = 200
ROUNDS = 4


def run_time_by_thread_name() -> dict[str, float]:
    """CPU seconds so far of this process's threads, summed by thread name."""
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
        except OSError:  # the thread ended meanwhile
            continue
        out[name] = out.get(name, 0.0) + ns / 1e9
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=128)
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args()
    with LocalCluster(controller_manager=False) as cluster:
        ns = cluster.create_namespace("bench", wait_for_service_account=False)
        for i in range(TARGETS):
            cluster.create_deployment(ns, f"b-{i}", 1)
        pool = thread_pool(a.threads)  # the pool RESULTS.md's blocking runner keeps
        value, totals, n = 1, [], TARGETS * ROUNDS
        for rep in range(a.reps):
            h = kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path)
            h.get_scale("deployment/b-0")

            def scale(name: str, replicas: int, h: kubescale.ScaleHandler = h) -> None:
                h.scale(f"deployment/{name}", replicas)

            before, cpu0 = run_time_by_thread_name(), cpu_seconds()
            for _ in range(ROUNDS):
                value = 2 if value == 1 else 1
                run_sync(scale, [(f"b-{i}", value) for i in range(TARGETS)], pool, [])
            h.close()
            cpu, after = cpu_seconds() - cpu0, run_time_by_thread_name()
            ms = {k: (after[k] - before.get(k, 0.0)) / n * 1000 for k in after}
            worker = ms.pop("kubescale-worke", 0.0)  # the thread's name, cut to 15 bytes
            totals.append(cpu / n * 1000)
            others = sum(ms.values())
            split = f"tokio worker {worker:.3f}, others {others:.3f}"
            print(f"handler {rep + 1}: {totals[-1]:.3f} ms per change ({split})")
        if pool is not None:
            pool.shutdown()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    later = statistics.median(totals[1:])
    print(f"first handler {totals[0]:.3f} ms per change; later ones, median {later:.3f}")
    print(f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
