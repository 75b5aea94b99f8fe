#!/usr/bin/env python3
"""A cooldown recommended from a week of history: one service whose Prometheus trigger has a
week of bursty traffic at one-minute resolution (bursts 2 to 55 minutes apart, backfilled with
promtool), `recommend_cooldown()` over the week at one-minute steps with the 8 default
candidates; beside it one `replay()` of the same week. Wall time, medians of the repetitions.

Usage: benches/recommend.py [--reps 5]. Writes benches/recommend.json and the recommend section
of benches/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from results_md import markers, write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]  # the test helpers

import kubescale  # noqa: E402
from kubescale.testing import LocalCluster  # noqa: E402

from helpers import create_es, elasti_service  # noqa: E402
from helpers.prometheus import LocalPrometheus, openmetrics  # noqa: E402

HERE = Path(__file__).parent
START, END = markers("recommend")
GAPS = [2, 7, 3, 22, 5, 11, 38, 4, 16, 55]  # minutes between bursts, repeated
WEEK = 7 * 24 * 60
T0 = (int(time.time()) // 3600) * 3600 - WEEK * 60 - 3600


def history() -> str:
    busy, minute, i = set(), 0, 0
    while minute <= WEEK:
        busy.add(minute)
        minute += GAPS[i % len(GAPS)]
        i += 1
    return openmetrics(
        {
            'up{container="prometheus",job="h"}': [(T0 + k * 60, 1.0) for k in range(-60, WEEK + 1)],
            'bursty{job="h"}': [(T0 + k * 60, 4.0 if k in busy else 0.0) for k in range(0, WEEK + 1)],
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    start = datetime.fromtimestamp(T0, timezone.utc)
    end = start + timedelta(minutes=WEEK)
    sweep, single = [], []
    with LocalPrometheus(history=history()) as prom, LocalCluster(controller_manager=False) as c:
        with kubescale.ScaleHandler(kubeconfig=c.kubeconfig_path) as h:
            h.install_crds()
        ns = c.create_namespace(wait_for_service_account=False)
        obj = elasti_service("web", "unused", cooldown=900)
        obj["spec"]["triggers"] = [
            {
                "type": "prometheus",
                "metadata": {"serverAddress": prom.url, "query": "bursty", "threshold": "1"},
            }
        ]
        c.create_deployment(ns, "web", 2)
        create_es(c, ns, obj, age=False)
        with kubescale.ScaleHandler(ns, kubeconfig=c.kubeconfig_path) as h:
            for _ in range(args.reps):
                t = time.perf_counter()
                r = h.recommend_cooldown("web", start=start, end=end, step="1m", max_cold_starts_per_day=50)
                sweep.append(time.perf_counter() - t)
                t = time.perf_counter()
                h.replay("web", start=start, end=end, step="1m")
                single.append(time.perf_counter() - t)
    steps = WEEK + 1
    out = {
        "steps": steps,
        "candidates": len(r.points),
        "sweep_s": statistics.median(sweep),
        "replay_s": statistics.median(single),
        "recommended": r.cooldown.total_seconds() if r.cooldown else None,
        "reason": r.reason,
        "points": [p.to_dict() for p in r.points],
    }
    (HERE / "recommend.json").write_text(json.dumps(out, indent=2))
    lines = [
        START,
        "## A cooldown recommended from a week (`benches/recommend.py`)",
        "",
        f"One service, a week of bursty Prometheus history at one-minute resolution ({steps:,} steps),",
        f"`recommend_cooldown()` with the {len(r.points)} default candidates and a budget of 50 cold starts",
        f"a day, beside one `replay()` of the same week; medians of {args.reps}. The history is read once;",
        "each candidate is one simulation of the week.",
        "",
        "| call | wall |",
        "| --- | ---: |",
        f"| `recommend_cooldown` ({len(r.points)} cooldowns) | {out['sweep_s']:.2f} s |",
        f"| `replay` (1 cooldown) | {out['replay_s']:.2f} s |",
        "",
        f"Recommended: {r.reason}.",
        "",
        "| cooldown | at zero | replica-hours saved | cold starts a day |",
        "| --- | ---: | ---: | ---: |",
    ]
    for p in r.points:
        at_zero = f"{100 * p.fraction_at_zero:.0f}%"
        lines.append(
            f"| {p.cooldown} | {at_zero} | {p.replica_hours_saved:.1f} | {p.cold_starts_per_day:.1f} |"
        )
    lines += ["", END]
    write_section("recommend", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
