"""Requests per repeated real change while the controller-manager writes status and pods are
marked ready (audit log of a local cluster). Usage: python requests_per_change.py [ROUNDS]"""

import sys
import time
from collections import Counter

import kubescale
from kubescale.testing import LocalCluster

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
rule = {"level": "Metadata", "resources": [{"group": "apps", "resources": ["deployments/scale"]}]}
with LocalCluster(audit_rules=[rule]) as cluster:
    ns = cluster.create_namespace(wait_for_service_account=False)
    cluster.create_deployment(ns, "web", 1)
    with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path, record_events=False) as h:
        h.scale("deploy/web", 3)
        time.sleep(0.5)
        start = len([e for e in cluster.audit_entries() if e["objectRef"].get("namespace") == ns])
        for i in range(rounds):
            cluster.mark_pods_ready(ns)

            def observed() -> bool:
                d = cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
                return bool(d["status"].get("observedGeneration") == d["metadata"]["generation"])

            cluster.wait_for(observed, "the controller-manager observed the change")
            time.sleep(0.2)  # the status writes that follow a change
            h.scale("deploy/web", 2 + i % 4)
    time.sleep(0.5)
    entries = [e for e in cluster.audit_entries() if e["objectRef"].get("namespace") == ns][start:]
    verbs = Counter(f"{e['verb']} {e['responseStatus']['code']}" for e in entries)
    print(
        f"kubescale {kubescale.__version__}: {len(entries) / rounds:.2f} requests per repeated change "
        f"({rounds} changes): {dict(verbs)}"
    )
