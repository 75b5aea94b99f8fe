#!/usr/bin/env python3
"""The scale-to-zero loop at N ElastiServices (each with a Deployment), driven by `run()` with
a trivial Python scaler, on a fresh local cluster per N (no controller-manager).

Per N and per phase (the scale-down pass, steady at zero, the scale-up pass, steady serving):
wall time of a pass (the loop's own `kubescale_pass_duration_seconds`), kubescale's API requests
by verb (its `kubescale_api_requests_total`; tests/loop/test_watch.py checks the steady state
against the API server's audit log), client CPU per pass (the process's CPU time:
the loop's threads and the scaler calls), and RSS. Beside it, the request pattern of the
reference (KubeElasti: one LIST plus one GET per service per pass, one status write per
service per scale-up tick), computed for the same N.

Usage: benches/loop.py [--sizes 100,1000,10000]. Writes benches/loop.json, the loop section of
benches/RESULTS.md and benches/loop.png.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

from results_md import markers, write_section
from services import create_services, metric

import kubescale
from kubescale.testing import LocalCluster

HERE = Path(__file__).parent
STATE = {"zero": True}
# Seconds. The steady serving passes must come within a quarter of it after the scale-up
# (when lastScaledUpTime is persisted again, by design), and 10,000 scale-ups take this API
# server a minute and a half; every service must be older than it before the loop starts.
COOLDOWN = {100: 60, 1000: 60}
LONG_COOLDOWN = 600
START, END = markers("loop")


class Trivial:
    """A scaler that answers at once from STATE."""

    def __init__(self, metadata: dict[str, Any], cooldown: timedelta) -> None:
        pass

    def is_healthy(self) -> bool:
        return True

    def should_scale_to_zero(self) -> bool:
        return STATE["zero"]

    def close(self) -> None:
        pass


class Audit:
    """kubescale's requests by verb since the last `take()`, from its own
    `kubescale_api_requests_total` (every attempt, counted as it is answered). The API server's
    audit log says the same in a steady state, but under a burst of thousands of writes its
    entries trail the responses by seconds, which blurs the windows."""

    def __init__(self, h: Optional[kubescale.ScaleHandler] = None) -> None:
        self.h = h
        self.last: Counter[str] = Counter()

    def counts(self) -> Counter[str]:
        verbs: Counter[str] = Counter()
        if self.h is None:
            return verbs
        for m in re.finditer(
            r'^kubescale_api_requests_total\{verb="([^"]+)",code="[^"]*"\} (\S+)', self.h.metrics(), re.M
        ):
            verbs[m.group(1)] += int(float(m.group(2)))
        return verbs

    def take(self) -> Counter[str]:
        now = self.counts()
        delta = Counter({v: c - self.last.get(v, 0) for v, c in now.items() if c - self.last.get(v, 0) > 0})
        self.last = now
        return delta


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Loop:
    """`run()` in a thread, observed through the handler's metrics."""

    def __init__(self, h: kubescale.ScaleHandler, audit: Audit) -> None:
        self.h, self.audit = h, audit

    def sample(self) -> tuple[float, float]:
        text = self.h.metrics()
        return metric(text, "kubescale_passes_total"), metric(text, "kubescale_pass_duration_seconds_sum")

    def wait_passes(self, count: float, timeout: float = 1800) -> None:
        deadline = time.monotonic() + timeout
        while self.sample()[0] < count:
            if time.monotonic() > deadline:
                sys.exit("the loop stopped making passes")
            time.sleep(0.05)

    def measure(self, passes: int, steady_wall: Optional[float] = None) -> dict[str, Any]:
        """From now until `passes` more passes have ended after one that may be under way:
        requests by verb (since the last measure), CPU and wall. Steady windows
        (`steady_wall` None) give per-pass figures; a change's window (`passes` 1) gives its
        requests, and the wall of its pass (the window's other pass is a steady one, of
        `steady_wall`)."""
        p0, s0 = self.sample()
        cpu0 = time.process_time()
        self.wait_passes(p0 + passes + 1)
        cpu = time.process_time() - cpu0
        p1, s1 = self.sample()
        verbs = self.audit.take()
        k = p1 - p0
        if steady_wall is None:
            return {
                "passes": k,
                "wall_s": (s1 - s0) / k,
                "requests": sum(verbs.values()) / k,
                "verbs": {v: c / k for v, c in sorted(verbs.items())},
                "cpu_s": cpu / k,
            }
        return {
            "passes": 1,
            "wall_s": (s1 - s0) - (k - 1) * steady_wall,
            "requests": sum(verbs.values()),
            "verbs": dict(sorted(verbs.items())),
            "cpu_s": cpu,
        }


def settle(loop: Loop, change: dict[str, Any]) -> None:
    """Waits until the change's Events are written (the count of Event writes holds still for
    2 s, at most 10 minutes) and adds the requests meanwhile to the change's."""
    deadline = time.monotonic() + 600
    last, still = -1.0, time.monotonic()
    while time.monotonic() < deadline:
        text = loop.h.metrics()
        counts = re.findall(r"^kubescale_event_writes_total\{[^}]*\} (\S+)", text, re.M)
        written = sum(float(v) for v in counts)
        if written != last:
            last, still = written, time.monotonic()
        elif time.monotonic() - still >= 2:
            break
        time.sleep(0.2)
    extra = loop.audit.take()
    for verb, count in extra.items():
        change["verbs"][verb] = change["verbs"].get(verb, 0) + count
    change["requests"] += sum(extra.values())


def reference(n: int) -> dict[str, int]:
    """KubeElasti's requests per pass: a LIST, a GET of each target, and a status write for each
    service on a scale-up tick (and the scale writes of a change)."""
    return {
        "scale_down": 1 + n + n + n,  # LIST, GETs, scale writes, status writes
        "steady_zero": 1 + n,
        "scale_up": 1 + n + n + n,
        "steady_serving": 1 + n + n,
    }


def run_size(n: int, qps: float) -> dict[str, Any]:
    with LocalCluster(controller_manager=False) as cluster:
        with kubescale.ScaleHandler(kubeconfig=cluster.kubeconfig_path) as admin:
            admin.install_crds()
        ns = cluster.create_namespace(wait_for_service_account=False)
        t0 = time.monotonic()
        cooldown = COOLDOWN.get(n, LONG_COOLDOWN)
        create_services(cluster, ns, n, replicas=1, cooldown=cooldown, trigger="trivial")
        made = time.monotonic() - t0
        print(f"  N={n}: {2 * n} objects made in {made:.0f} s", flush=True)
        time.sleep(cooldown + 1)  # every service older than its cooldown
        baseline = rss_mib()
        STATE["zero"] = True
        h = kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path)
        audit = Audit(h)
        audit.take()
        h.register_scaler("trivial", Trivial)
        interval = 1.0 if n <= 1000 else 3.0
        run = {"polling_interval": interval, "qps": qps, "burst": int(qps)}
        t = threading.Thread(target=h.run, kwargs=run)
        loop = Loop(h, audit)
        out: dict[str, Any] = {"n": n, "interval_s": interval}
        try:
            t.start()
            # The first pass: the watches fill, and every service goes to zero. Each window ends
            # at the end of a pass and the next begins there (steady passes send nothing, so a
            # window's requests are its change's); the first pass of a window may have begun
            # before the window did.
            p0, s0 = loop.sample()  # the process's metrics count earlier sizes' passes too
            cpu0 = time.process_time()
            loop.wait_passes(p0 + 1)
            _, s1 = loop.sample()
            verbs = audit.take()
            out["scale_down"] = {
                "passes": 1,
                "wall_s": s1 - s0,
                "requests": sum(verbs.values()),
                "verbs": dict(sorted(verbs.items())),
                "cpu_s": time.process_time() - cpu0,
            }
            settle(loop, out["scale_down"])
            out["steady_zero"] = loop.measure(3)
            STATE["zero"] = False
            out["scale_up"] = loop.measure(1, out["steady_zero"]["wall_s"])
            settle(loop, out["scale_up"])
            out["steady_serving"] = loop.measure(3)
            out["rss_mib"] = rss_mib()
            out["rss_over_baseline_mib"] = out["rss_mib"] - baseline
        finally:
            h.close()
            t.join(timeout=60)
        items = cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments")["items"]
        out["targets_up"] = sum(1 for d in items if d["spec"].get("replicas", 0) == 1)
        out["reference"] = reference(n)
        print(f"  N={n}: {json.dumps(out)}", flush=True)
        return out


PHASES = [
    ("scale_down", "scale-down pass (watches fill)"),
    ("steady_zero", "steady at zero"),
    ("scale_up", "scale-up pass"),
    ("steady_serving", "steady serving"),
]


def report(results: list[dict[str, Any]], qps: float) -> str:
    lines = [
        START,
        "## The scale-to-zero loop at N services (`benches/loop.py`)",
        "",
        "`run()` over N ElastiServices, each with its Deployment, and a trivial Python scaler; a fresh",
        "local cluster per N (no controller-manager). Requests are kubescale's own count",
        "(`kubescale_api_requests_total`; the steady state's zero is also checked against the API",
        "server's audit log by tests/loop/test_watch.py).",
        f"Rate limit for the run: {qps:g} QPS (the default is 50: a change of 10,000 services then takes",
        "minutes, by design). The reference's requests are computed",
        "(KubeElasti: a LIST and a GET per service per pass, a status write per service per",
        "scale-up tick, and the writes of a change).",
        "",
        "| N | pass | wall per pass | requests per pass (by verb) | per service | reference per pass "
        "| client CPU per pass |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        n = r["n"]
        for key, name in PHASES:
            p = r[key]
            verbs = ", ".join(f"{v} {c:g}" for v, c in p["verbs"].items()) or "none"
            lines.append(
                f"| {n:,} | {name} | {p['wall_s'] * 1000:.0f} ms | {p['requests']:g} ({verbs}) "
                f"| {p['requests'] / n:.3f} | {r['reference'][key]:,} | {p['cpu_s'] * 1000:.0f} ms |"
            )
    lines += ["", "| N | RSS of the process | over the process before the loop |", "| --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['n']:,} | {r['rss_mib']:.0f} MiB | {r['rss_over_baseline_mib']:.0f} MiB |")
    lines += ["", "![requests and wall time per pass against N](loop.png)", END]
    return "\n".join(lines) + "\n"


def plot(results: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [r["n"] for r in results]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, name in PHASES:
        a.plot(ns, [max(r[key]["requests"], 0.1) for r in results], marker="o", label=f"kubescale: {name}")
        b.plot(ns, [r[key]["wall_s"] for r in results], marker="o", label=name)
    a.plot(ns, [r["reference"]["steady_serving"] for r in results], "k--", label="reference: steady serving")
    a.plot(ns, [r["reference"]["steady_zero"] for r in results], "k:", label="reference: steady at zero")
    for ax in (a, b):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("ElastiServices (N)")
        ax.grid(True, which="both", alpha=0.3)
    a.set_ylabel("API requests per pass (0 drawn at 0.1)")
    b.set_ylabel("wall time per pass (s)")
    a.legend(fontsize=7)
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "loop.png", dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--qps", type=float, default=2000.0, help="the run's rate limit (default 2000)")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    results = [run_size(n, a.qps) for n in sizes]
    (HERE / "loop.json").write_text(json.dumps(results, indent=1) + "\n")
    write_section("loop", report(results, a.qps))
    plot(results)
    print(report(results, a.qps))


if __name__ == "__main__":
    os.environ.setdefault("RUST_LOG", "warn")
    main()
