"""Service accounts and kubeconfigs that act as them (RBAC tests, several identities)."""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path
from typing import Any, Callable

import yaml

from kubescale.testing import ClusterAPI


def service_account_token(cluster: ClusterAPI, ns: str, sa: str) -> str:
    """The ServiceAccount's token (from its Secret, made by the token controller)."""
    deadline = time.monotonic() + 30
    while True:
        secrets = cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets")["items"]
        tokens = [
            s
            for s in secrets
            if s["type"] == "kubernetes.io/service-account-token"
            and s["metadata"].get("annotations", {}).get("kubernetes.io/service-account.name") == sa
            and s.get("data", {}).get("token")
        ]
        if tokens:
            return base64.b64decode(tokens[0]["data"]["token"]).decode()
        assert time.monotonic() < deadline, "no token Secret for the ServiceAccount"
        time.sleep(0.2)


def service_account_kubeconfig(cluster: ClusterAPI, ns: str, sa: str, directory: Path) -> Path:
    """A kubeconfig with the ServiceAccount's token, written into `directory`."""
    token = service_account_token(cluster, ns, sa)
    cfg = json.loads(Path(cluster.kubeconfig_path).read_text())
    cfg["users"][0]["user"] = {"token": token}
    path = directory / f"{sa}.kubeconfig"
    path.write_text(json.dumps(cfg))
    return path


def namespace_admin_kubeconfig(cluster: ClusterAPI, ns: str, sa: str, directory: Path) -> Path:
    """A new ServiceAccount `sa` with every right in `ns` (a RoleBinding to `cluster-admin`),
    and a kubeconfig with its token: a process that the audit log tells apart by its user."""
    cluster.request(
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}},
    )
    cluster.request(
        "POST",
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": sa},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
        },
    )
    return service_account_kubeconfig(cluster, ns, sa, directory)


# The example RBAC the docs point users to.
RBAC = Path(__file__).resolve().parents[2] / "examples" / "rbac.yaml"
PATHS = {
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
}


def apply(cluster: ClusterAPI, ns: str, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        cluster.request("POST", PATHS[doc["kind"]].format(ns=ns), doc)


def scaler_role_kubeconfig(
    cluster: ClusterAPI, ns: str, sa: str, tmp_path: Path, edit: Callable[[list[dict[str, Any]]], None]
) -> Path:
    """Binds the example's kubescale-scaler Role, its rules changed by `edit`, to a new
    ServiceAccount `sa`, and returns a kubeconfig with that account's token."""
    docs = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
    role = copy.deepcopy(
        next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "kubescale-scaler")
    )
    edit(role["rules"])
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}}
    binding = copy.deepcopy(
        next(d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "kubescale-scaler")
    )
    binding["subjects"][0]["name"] = sa
    apply(cluster, ns, [role, account, binding])
    return service_account_kubeconfig(cluster, ns, sa, tmp_path)
