#!/usr/bin/env python3
"""A new owner's first pass: N ElastiServices whose targets are held at zero (or serving) by one
process; a second process starts `run()` with the defaults (50 requests/s) and takes over.

Per N and state: the wall time to the end of the new owner's first pass, its requests by verb
(its own `kubescale_api_requests_total`), the RSS it added, and the time until a service whose
trigger turns "up" as the takeover starts is scaled up (its Deployment's spec.replicas, polled
every 50 ms). The holding process and the new owner are separate processes, as in a failover.

Usage: benches/takeover.py [--sizes 1000,10000] [--states held,serving] [--owners
before=OLD_VENV/bin/python,after=.venv/bin/python] (builds side by side in one run). Writes
benches/takeover.json and the takeover section of benches/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from results_md import markers, write_section
from services import create_service, create_services, elasti_service

import kubescale
from kubescale.testing import LocalCluster

HERE = Path(__file__).parent
START, END = markers("takeover")
COOLDOWN = 30

OWNER = r"""
import json, re, sys, threading, time
from pathlib import Path
import kubescale

kubeconfig, ns, flag = sys.argv[1], sys.argv[2], Path(sys.argv[3])


class Flag:
    def __init__(self, metadata, cooldown):
        self.probe = metadata.get("probe") == "yes"

    def is_healthy(self):
        return True

    def should_scale_to_zero(self):
        return not (self.probe and flag.exists())

    def close(self):
        pass


def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


h = kubescale.ScaleHandler(ns, kubeconfig=kubeconfig)
h.register_scaler("trivial", Flag)
before = rss()
t0 = time.monotonic()
thread = threading.Thread(target=h.run, daemon=True)
thread.start()
while not re.search(r"^kubescale_passes_total [1-9]", h.metrics(), re.M):
    time.sleep(0.01)
first = time.monotonic() - t0
text = h.metrics()
verbs = {}
for m in re.finditer(r'^kubescale_api_requests_total\{verb="([^"]+)",code="[^"]*"\} (\S+)', text, re.M):
    verbs[m.group(1)] = verbs.get(m.group(1), 0) + int(float(m.group(2)))
print(json.dumps({"first_pass_s": first, "verbs": verbs, "rss_added_mib": rss() - before}), flush=True)
h.close()
thread.join(30)
"""


def held_by_another_process(cluster: LocalCluster, ns: str, zero: bool) -> None:
    """One pass of a first owner (its own process) takes every service to `zero` or keeps it up."""
    script = (
        "import sys, kubescale\n"
        "class S:\n"
        "    def __init__(self, m, c): pass\n"
        "    def is_healthy(self): return True\n"
        f"    def should_scale_to_zero(self): return {zero}\n"
        "    def close(self): pass\n"
        "h = kubescale.ScaleHandler(sys.argv[2], kubeconfig=sys.argv[1])\n"
        "h.register_scaler('trivial', S)\n"
        "h.run(once=True, qps=2000, burst=2000) if False else None\n"
        "h.check_and_scale()\n"
        "h.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, cluster.kubeconfig_path, ns], check=True, timeout=3600)


def probe_service(cluster: LocalCluster, ns: str) -> None:
    cluster.create_deployment(ns, "probe", 1)
    probe = elasti_service("probe", cooldown=COOLDOWN, trigger="trivial", metadata={"probe": "yes"})
    create_service(cluster, ns, probe)


def replicas(cluster: LocalCluster, ns: str, name: str) -> int:
    d = cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    return int(d["spec"].get("replicas", 0))


def run_cases(n: int, state: str, owners: dict[str, str], tmp: Path) -> list[dict[str, Any]]:
    """One cluster with `n` services; each owner (label: its Python) takes over in turn."""
    results = []
    with LocalCluster(controller_manager=False) as cluster:
        with kubescale.ScaleHandler(kubeconfig=cluster.kubeconfig_path) as admin:
            admin.install_crds()
        ns = cluster.create_namespace(wait_for_service_account=False)
        create_services(cluster, ns, n, replicas=1, cooldown=COOLDOWN, trigger="trivial")
        probe_service(cluster, ns)
        time.sleep(COOLDOWN + 1)  # every service older than its cooldown
        held_by_another_process(cluster, ns, zero=state == "held")
        for label, python in owners.items():
            # The probe is held at zero in both states: it is the service a user waits for.
            with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path) as h:
                h.scale_to_zero("deploy/probe")
            flag = tmp / f"up-{n}-{state}-{label}"
            flag.unlink(missing_ok=True)
            owner = subprocess.Popen(
                [python, "-c", OWNER, cluster.kubeconfig_path, ns, str(flag)],
                stdout=subprocess.PIPE,
                text=True,
            )
            t0 = time.monotonic()
            flag.touch()  # the probe's trigger turns up as the takeover starts
            while replicas(cluster, ns, "probe") == 0:
                time.sleep(0.05)
                if time.monotonic() - t0 > 1800:
                    sys.exit("the probe was never scaled up")
            up = time.monotonic() - t0
            out = json.loads(owner.stdout.readline() if owner.stdout else "{}")
            owner.wait(120)
            result = {"n": n, "state": state, "build": label, "probe_up_s": up, **out}
            result["requests"] = sum(out.get("verbs", {}).values())
            print(f"  {json.dumps(result)}", flush=True)
            results.append(result)
    return results


def report(results: list[dict[str, Any]]) -> str:
    rows = [
        "| services | targets | build | first pass | requests (by verb) | probe up after | RSS added |",
        "| ---: | --- | --- | ---: | --- | ---: | ---: |",
    ]
    for r in results:
        verbs = ", ".join(f"{v} {c}" for v, c in sorted(r["verbs"].items()))
        rows.append(
            f"| {r['n']:,} | {r['state']} | {r['build']} | {r['first_pass_s']:.1f} s "
            f"| {r['requests']:,} ({verbs}) | {r['probe_up_s']:.1f} s | {r['rss_added_mib']:.0f} MiB |"
        )
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="1000,10000")
    p.add_argument("--states", default="held,serving")
    p.add_argument(
        "--owners",
        default=f"this={sys.executable}",
        help="LABEL=PYTHON,...: the builds that take over in turn (e.g. the previous release's venv)",
    )
    args = p.parse_args()
    owners = dict(o.split("=", 1) for o in args.owners.split(","))
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    results = [
        r
        for n in args.sizes.split(",")
        for state in args.states.split(",")
        for r in run_cases(int(n), state, owners, tmp)
    ]
    (HERE / "takeover.json").write_text(json.dumps(results, indent=2) + "\n")
    intro = (__doc__ or "").split("\n\n")[0]
    heading = "## A new owner's first pass (takeover)"
    text = f"{START}\n{heading}\n\n`benches/takeover.py`: {intro}\n\n{report(results)}\n{END}"
    write_section("takeover", text)
    print(report(results))


if __name__ == "__main__":
    main()
