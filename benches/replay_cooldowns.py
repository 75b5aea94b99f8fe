"""Replays of one service over six hours of bursty traffic (24 bursts, 2 to 55 minutes apart) at
several cooldowns, and how long each replay takes: the table of docs/replay.md.

    .venv/bin/python benches/replay_cooldowns.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "loop")]  # the test helpers

import test_replay as t  # noqa: E402

import kubescale  # noqa: E402
from kubescale.testing import LocalCluster  # noqa: E402

from helpers.prometheus import LocalPrometheus, openmetrics  # noqa: E402

GAPS = [2, 7, 3, 22, 5, 11, 38, 4, 16, 55]  # minutes between bursts, repeated


def history() -> str:
    busy, minute, i = set(), 0, 0
    while minute < 360:
        busy.add(minute)
        minute += GAPS[i % len(GAPS)]
        i += 1
    return openmetrics(
        {
            'up{container="prometheus",job="h"}': [(t.T0 + k * 60, 1.0) for k in range(-60, 361)],
            'bursty{job="h"}': [(t.T0 + k * 60, 4.0 if k in busy else 0.0) for k in range(0, 361)],
        }
    )


def main() -> None:
    with LocalPrometheus(history=history()) as prom, LocalCluster(controller_manager=False) as c:
        with kubescale.ScaleHandler(kubeconfig=c.kubeconfig_path) as h:
            h.install_crds()
        ns = c.create_namespace(wait_for_service_account=False)
        t.service(c, ns, prom, "bursty")
        with kubescale.ScaleHandler(ns, kubeconfig=c.kubeconfig_path) as h:
            head = [
                "cooldown",
                "time at zero",
                "replica-hours saved",
                "scale-downs",
                "cold starts",
                "longest",
                "s",
            ]
            print("| " + " | ".join(head) + " |")
            print("| --- | --- | --- | --- | --- | --- | --- |")
            for cooldown in ("1m", "5m", "10m", "15m", "30m"):
                started = time.perf_counter()
                m = h.replay("web", start=t.at(0), end=t.at(360), step="1m", cooldown=cooldown).summary
                took = time.perf_counter() - started
                print(
                    f"| {cooldown} | {m.fraction_at_zero:.0%} | {m.replica_hours_saved:.1f} "
                    f"| {m.scale_downs} | {m.cold_starts} | {m.longest_at_zero} | {took:.2f} |"
                )


if __name__ == "__main__":
    main()
