"""A minimal REST client for test helpers (namespaces, pods) built on the standard library.

The helpers must not depend on kubescale's own client: they are what the tests check it with.
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Optional

__all__ = ["ClusterAPI", "ClusterAPIError"]


class ClusterAPIError(RuntimeError):
    """A test helper's request failed.

    Attributes:
        status: HTTP status (0 when no answer came).
        body: The response body, if any.
    """

    def __init__(self, message: str, status: int = 0, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ClusterAPI:
    """Namespaces, pods and raw requests against a cluster given by server, token and CA."""

    server: str
    token: str
    kubeconfig_path: str
    _ca_path: str

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self._ca_path)
        return ctx

    def request(
        self,
        method: str,
        path: str,
        body: Optional[Any] = None,
        *,
        content_type: str = "application/json",
        timeout: float = 30.0,
        token: Optional[str] = None,
    ) -> Any:
        """Sends one request and returns the decoded JSON answer (text for non-JSON answers).

        Raises:
            ClusterAPIError: on an HTTP error or no answer.
        """
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token or self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self._context(), timeout=timeout) as resp:
                raw = resp.read()
                is_json = "json" in resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            raise ClusterAPIError(f"{method} {path}: HTTP {e.code}: {text[:500]}", e.code, text) from None
        except (urllib.error.URLError, OSError) as e:
            raise ClusterAPIError(f"{method} {path}: {e}") from None
        if not raw:
            return None
        return json.loads(raw) if is_json else raw.decode()

    def apply_json(self, path: str, obj: dict[str, Any]) -> Any:
        """Creates ``obj`` with a POST to the collection ``path``."""
        return self.request("POST", path, obj)

    def create_namespace(self, name: Optional[str] = None, *, wait_for_service_account: bool = True) -> str:
        """Creates a namespace (a fresh random name by default) and returns its name.

        Waits until its ``default`` ServiceAccount exists, so pods can be created at once.
        """
        name = name or f"ks-{uuid.uuid4().hex[:10]}"
        self.request(
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
        if wait_for_service_account:
            self.wait_for(
                lambda: self._exists(f"/api/v1/namespaces/{name}/serviceaccounts/default"),
                f"the default ServiceAccount of namespace {name}",
            )
        return name

    def delete_namespace(self, name: str) -> None:
        """Deletes a namespace (does not wait for it to go)."""
        try:
            self.request("DELETE", f"/api/v1/namespaces/{name}")
        except ClusterAPIError as e:
            if e.status != 404:
                raise

    def _exists(self, path: str) -> bool:
        try:
            self.request("GET", path)
            return True
        except ClusterAPIError as e:
            if e.status == 404:
                return False
            raise

    @staticmethod
    def wait_for(check: Any, what: str, timeout: float = 60.0, interval: float = 0.1) -> None:
        """Polls ``check()`` until it is true.

        Raises:
            TimeoutError: naming ``what``.
        """
        deadline = time.monotonic() + timeout
        while True:
            if check():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(interval)

    def mark_pods_ready(self, namespace: str, selector: Optional[str] = None) -> int:
        """Marks pods Running and Ready the way a kubelet would, so ready counts move.

        Args:
            namespace: The pods' namespace.
            selector: A label selector (``app=web``); default: every pod of the namespace.

        Returns:
            The number of pods marked.
        """
        query = "?" + urllib.parse.urlencode({"labelSelector": selector}) if selector else ""
        pods = self.request("GET", f"/api/v1/namespaces/{namespace}/pods{query}")["items"]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        marked = 0
        for i, pod in enumerate(pods):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            conditions = [
                {"type": t, "status": "True", "lastTransitionTime": now}
                for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ]
            containers = pod["spec"].get("containers", [])
            status = {
                "status": {
                    "phase": "Running",
                    "conditions": conditions,
                    "startTime": now,
                    "podIP": f"10.1.{(i // 250) % 250}.{i % 250 + 1}",
                    "containerStatuses": [
                        {
                            "name": c["name"],
                            "image": c.get("image", ""),
                            "imageID": "",
                            "ready": True,
                            "started": True,
                            "restartCount": 0,
                            "state": {"running": {"startedAt": now}},
                        }
                        for c in containers
                    ],
                }
            }
            name = pod["metadata"]["name"]
            try:
                self.request(
                    "PATCH",
                    f"/api/v1/namespaces/{namespace}/pods/{name}/status",
                    status,
                    content_type="application/merge-patch+json",
                )
                marked += 1
            except ClusterAPIError as e:
                if e.status != 404:  # deleted meanwhile
                    raise
        return marked

    def create_deployment(
        self, namespace: str, name: str, replicas: int = 1, *, labels: Optional[dict[str, str]] = None
    ) -> Any:
        """Creates a minimal Deployment (pods stay Pending: there is no kubelet)."""
        labels = labels or {"app": name}
        return self.request(
            "POST",
            f"/apis/apps/v1/namespaces/{namespace}/deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]},
                    },
                },
            },
        )


def kubeconfig_dict(
    name: str, server: str, ca_pem: bytes, token: str, namespace: str = "default"
) -> dict[str, Any]:
    """A kubeconfig (as a dict, written as JSON, which is valid YAML) with TLS verification on."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": f"{name}-admin", "user": {"token": token}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": f"{name}-admin", "namespace": namespace}}
        ],
        "current-context": name,
    }


class KubeconfigCluster(ClusterAPI):
    """A running cluster described by a kubeconfig that kubescale's LocalCluster wrote."""

    def __init__(self, kubeconfig_path: str) -> None:
        with open(kubeconfig_path) as f:
            try:
                cfg = json.load(f)
            except json.JSONDecodeError:
                raise ValueError(
                    f"{kubeconfig_path} is not a kubeconfig written by kubescale.testing (JSON with a token)"
                ) from None
        ctx_name = cfg["current-context"]
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        self.kubeconfig_path = kubeconfig_path
        self.server = cluster["server"]
        self.token = user["token"]
        ca = tempfile.NamedTemporaryFile("wb", prefix="kubescale-ca-", suffix=".crt", delete=False)
        ca.write(base64.b64decode(cluster["certificate-authority-data"]))
        ca.close()
        self._ca_path = ca.name
