"""Events as the API server stores them."""

from __future__ import annotations

from typing import Any

from kubescale.testing import ClusterAPI


def events_for(cluster: ClusterAPI, ns: str, name: str) -> list[dict[str, Any]]:
    """kubescale's events.k8s.io/v1 Events regarding `name`, oldest first."""
    items = cluster.request("GET", f"/apis/events.k8s.io/v1/namespaces/{ns}/events")["items"]
    ours = [
        e for e in items if e.get("reportingController") == "kubescale" and e["regarding"]["name"] == name
    ]
    return sorted(ours, key=lambda e: (e.get("series") or {}).get("lastObservedTime") or e["eventTime"])
