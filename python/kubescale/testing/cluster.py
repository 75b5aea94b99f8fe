"""``LocalCluster``: a real Kubernetes control plane (etcd, kube-apiserver,
kube-controller-manager) on loopback, for tests, demos and notebooks.

Binaries come from ``$KUBEBUILDER_ASSETS`` (the envtest convention) or from the cache that
``scripts/install-control-plane.sh`` fills. Pods stay Pending (there is no kubelet);
:meth:`ClusterAPI.mark_pods_ready` plays the kubelet's part for readiness.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Optional

from kubescale.testing.api import ClusterAPI, ClusterAPIError, kubeconfig_dict

__all__ = ["BINARIES", "ControlPlaneError", "LocalCluster", "MissingBinaryError", "find_binary"]

log = logging.getLogger("kubescale.testing")

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")
VERSION = "v1.20.2"
INSTALL_HINT = "bash scripts/install-control-plane.sh (or `make control-plane`)"


class ControlPlaneError(RuntimeError):
    """A control-plane component failed to start or stopped answering.

    Attributes:
        component: The failing component (``etcd``, ``kube-apiserver``...).
        log_tail: The last lines of its log.
    """

    def __init__(self, message: str, component: str = "", log_tail: str = "") -> None:
        full = (
            message if not log_tail else f"{message}\n--- last lines of the {component} log ---\n{log_tail}"
        )
        super().__init__(full)
        self.component = component
        self.log_tail = log_tail


class MissingBinaryError(ControlPlaneError, FileNotFoundError):
    """A control-plane binary was not found."""


def cache_dir() -> Path:
    """The control-plane cache: ``${KUBESCALE_CACHE:-~/.cache/kubescale}/control-plane/v1.20.2``."""
    base = os.environ.get("KUBESCALE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "kubescale")
    return Path(base) / "control-plane" / VERSION


def find_binary(name: str) -> str:
    """Finds a control-plane binary: ``$KUBEBUILDER_ASSETS`` first, then the cache.

    Raises:
        MissingBinaryError: naming the binary, where it looked and how to install it.
    """
    places = []
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        places.append(Path(assets))
    places.append(cache_dir())
    for p in places:
        candidate = p / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    looked = ", ".join(str(p) for p in places)
    raise MissingBinaryError(
        f"{name} not found (looked in {looked}); install the local control plane with: {INSTALL_HINT}",
        component=name,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Children get SIGTERM when the Python process that started them dies (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class _Component:
    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self._log: Optional[IO[bytes]] = None

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        log.debug("started %s (pid %d)", self.name, self.proc.pid)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def terminate(self) -> None:
        """Asks the process to stop (SIGTERM), without waiting."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self, timeout: float = 10.0) -> None:
        """Stops the process: SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        if self.proc is not None:
            self.terminate()
            try:
                self.proc.wait(max(timeout, 0.0))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            log.debug("stopped %s (pid %d)", self.name, self.proc.pid)
        if self._log is not None:
            self._log.close()
            self._log = None

    def fail(self, message: str) -> ControlPlaneError:
        return ControlPlaneError(f"{self.name}: {message}", component=self.name, log_tail=self.tail())


_START_ATTEMPTS = 3


def _port_taken(e: ControlPlaneError) -> bool:
    return "address already in use" in e.log_tail.lower()


class LocalCluster(ClusterAPI):
    """A Kubernetes control plane on loopback, as a context manager.

    Example::

        with LocalCluster() as cluster:
            handler = kubescale.ScaleHandler(kubeconfig=cluster.kubeconfig_path)

    Args:
        apiserver_port: Port for kube-apiserver (default: a free one).
        etcd_port: Client port for etcd (default: a free one).
        start_timeout: Seconds each component may take to become ready.
        keep_dir: Leave the temporary directory (logs, kubeconfig) in place after ``stop()``.
        controller_manager: Start kube-controller-manager (Deployments get ReplicaSets and pods,
            namespaces get service accounts, HPAs are synced every second). Off, objects stay inert: for
            benchmarks.
        audit_rules: Audit policy rules (``audit.k8s.io/v1`` Policy ``rules``, e.g.
            ``{"level": "Metadata", "nonResourceURLs": ["/apis/*"]}``); requests they match are
            written to the audit log, read back with ``audit_entries()``. Nothing else is
            audited. For counting discovery requests, which the ``apiserver_request_total``
            metric of 1.20 leaves out, or the order in which requests reached the server.
        apiserver_args: More kube-apiserver flags, e.g. ``["--watch-cache=false"]`` (watches
            then go to etcd, so that :meth:`compact_etcd` can make a watch's revision too old).

    Attributes:
        kubeconfig_path: A kubeconfig that trusts the server's certificate (TLS verification on).
        server: The API server's URL.
        token: The admin token (group ``system:masters``).
        pids: The pids of the running components.
    """

    def __init__(
        self,
        *,
        apiserver_port: Optional[int] = None,
        etcd_port: Optional[int] = None,
        start_timeout: float = 90.0,
        keep_dir: bool = False,
        controller_manager: bool = True,
        audit_rules: Sequence[Mapping[str, Any]] = (),
        apiserver_args: Sequence[str] = (),
    ) -> None:
        self.with_controller_manager = controller_manager
        self.apiserver_args = list(apiserver_args)
        self.audit_rules = [dict(r) for r in audit_rules]
        self._apiserver_port = apiserver_port
        self._etcd_port = etcd_port
        self.start_timeout = start_timeout
        self.keep_dir = keep_dir
        self.dir: Optional[Path] = None
        self.token = uuid.uuid4().hex
        self.server = ""
        self.kubeconfig_path = ""
        self._components: dict[str, _Component] = {}

    # ---- life cycle ----------------------------------------------------------------------
    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalCluster(server={self.server!r}, kubeconfig_path={self.kubeconfig_path!r})"

    @property
    def pids(self) -> dict[str, int]:
        """Pids of the components that are running."""
        return {n: c.proc.pid for n, c in self._components.items() if c.proc is not None and c.alive()}

    def start(self) -> None:
        """Starts etcd, kube-apiserver and kube-controller-manager and waits until they serve.

        Raises:
            MissingBinaryError: a binary is not installed.
            ControlPlaneError: a component did not start (with the tail of its log).
        """
        bins = {name: find_binary(name) for name in BINARIES}
        # A port picked free can be taken by another process before a component binds it (test
        # workers start clusters side by side): start again on new ports, a bounded number of
        # times, when the ports were not given.
        chosen = (self._etcd_port, self._apiserver_port)
        for attempt in range(_START_ATTEMPTS):
            try:
                self._start_once(bins)
                return
            except ControlPlaneError as e:
                if attempt + 1 == _START_ATTEMPTS or chosen != (None, None) or not _port_taken(e):
                    raise
                log.info("a port was taken while the cluster started; starting on new ports")
                self._etcd_port, self._apiserver_port = chosen
                self.token = uuid.uuid4().hex

    def _start_once(self, bins: dict[str, str]) -> None:
        shm = Path("/dev/shm")
        base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        self.dir = Path(tempfile.mkdtemp(prefix="kubescale-cluster-", dir=base))
        try:
            self._prepare_files()
            self._start_etcd(bins["etcd"])
            self._start_apiserver(bins["kube-apiserver"])
            if self.with_controller_manager:
                self._start_controller_manager(bins["kube-controller-manager"])
                self.wait_for(
                    lambda: self._exists("/api/v1/namespaces/default/serviceaccounts/default"),
                    "the default ServiceAccount",
                    timeout=self.start_timeout,
                )
        except BaseException:
            self.stop()
            raise
        log.info("local cluster up at %s (kubeconfig %s)", self.server, self.kubeconfig_path)

    def stop(self) -> None:
        """Stops every process this cluster started (all asked at once, each killed if it has
        not exited within 10 s) and removes its directory."""
        components = list(reversed(self._components.values()))
        for c in components:
            c.terminate()
        deadline = time.monotonic() + 10.0
        for c in components:
            c.stop(deadline - time.monotonic())
        self._components.clear()
        if self.dir is not None and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- components ------------------------------------------------------------------------
    def _prepare_files(self) -> None:
        assert self.dir is not None
        d = self.dir
        (d / "etcd").mkdir()
        (d / "certs").mkdir()
        subprocess.run(
            ["openssl", "genrsa", "-out", str(d / "sa.key"), "2048"],
            check=True,
            capture_output=True,
        )
        (d / "tokens.csv").write_text(f'{self.token},kubescale-admin,kubescale-admin,"system:masters"\n')
        self._ca_path = str(d / "certs" / "apiserver.crt")
        self.kubeconfig_path = str(d / "kubeconfig")
        if self.audit_rules:
            policy = {
                "apiVersion": "audit.k8s.io/v1",
                "kind": "Policy",
                "omitStages": ["RequestReceived"],
                "rules": [*self.audit_rules, {"level": "None"}],
            }
            (d / "audit-policy.json").write_text(json.dumps(policy))

    def _start_etcd(self, binary: str) -> None:
        assert self.dir is not None
        port = self._etcd_port or free_port()
        peer = free_port()
        self._etcd_url = f"http://127.0.0.1:{port}"
        argv = [
            binary,
            "--name=default",
            f"--data-dir={self.dir / 'etcd'}",
            f"--listen-client-urls={self._etcd_url}",
            f"--advertise-client-urls={self._etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=default=http://127.0.0.1:{peer}",
            "--listen-metrics-urls=",
            "--log-level=warn",
        ]
        c = self._components["etcd"] = _Component("etcd", argv, self.dir / "etcd.log")
        c.start()
        self._wait_http(c, f"{self._etcd_url}/health", tls=False)

    def _apiserver_argv(self, binary: str) -> list[str]:
        assert self.dir is not None
        d = self.dir
        return [
            binary,
            f"--etcd-servers={self._etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self._apiserver_port}",
            "--insecure-port=0",
            f"--cert-dir={d / 'certs'}",
            f"--token-auth-file={d / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--service-account-key-file={d / 'sa.key'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            "--v=1",
            *(
                [f"--audit-policy-file={d / 'audit-policy.json'}", f"--audit-log-path={d / 'audit.log'}"]
                if self.audit_rules
                else []
            ),
            *self.apiserver_args,
        ]

    def _start_apiserver(self, binary: str) -> None:
        assert self.dir is not None
        self._apiserver_port = self._apiserver_port or free_port()
        self.server = f"https://127.0.0.1:{self._apiserver_port}"
        c = self._components["kube-apiserver"] = _Component(
            "kube-apiserver", self._apiserver_argv(binary), self.dir / "kube-apiserver.log"
        )
        c.start()
        self._wait_apiserver(c)
        if not os.path.exists(self.kubeconfig_path):
            ca = Path(self._ca_path).read_bytes()
            cfg = kubeconfig_dict("kubescale-local", self.server, ca, self.token)
            Path(self.kubeconfig_path).write_text(json.dumps(cfg, indent=2))

    def _start_controller_manager(self, binary: str) -> None:
        assert self.dir is not None
        argv = [
            binary,
            f"--kubeconfig={self.kubeconfig_path}",
            "--controllers=deployment,replicaset,statefulset,garbagecollector,namespace,serviceaccount,"
            "serviceaccount-token,horizontalpodautoscaling",
            # HPAs are synced every second (15 s in a real cluster), so tests wait little.
            "--horizontal-pod-autoscaler-sync-period=1s",
            f"--service-account-private-key-file={self.dir / 'sa.key'}",
            f"--root-ca-file={self._ca_path}",
            "--use-service-account-credentials=false",
            "--leader-elect=false",
            "--port=0",
            "--secure-port=0",
            "--concurrent-deployment-syncs=10",
            "--concurrent-replicaset-syncs=10",
            "--v=1",
        ]
        c = self._components["kube-controller-manager"] = _Component(
            "kube-controller-manager", argv, self.dir / "kube-controller-manager.log"
        )
        c.start()
        time.sleep(0.2)
        if not c.alive():
            raise c.fail("exited at start")

    def _wait_http(self, c: _Component, url: str, *, tls: bool) -> None:
        import urllib.request

        deadline = time.monotonic() + self.start_timeout
        while True:
            if not c.alive():
                raise c.fail("exited at start")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise c.fail(f"not ready after {self.start_timeout:.0f}s")
            time.sleep(0.1)

    def _wait_apiserver(self, c: _Component) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if not c.alive():
                raise c.fail("exited at start")
            if os.path.exists(self._ca_path):
                try:
                    if self.request("GET", "/readyz", timeout=2) == "ok":
                        return
                except (ClusterAPIError, OSError):
                    pass
            if time.monotonic() > deadline:
                raise c.fail(f"not ready after {self.start_timeout:.0f}s")
            time.sleep(0.1)

    # ---- faults --------------------------------------------------------------------------
    def audit_entries(self) -> list[dict[str, Any]]:
        """The audit log's entries so far (one per request that ``audit_rules`` match), in the
        order the requests completed; empty without ``audit_rules``. An entry the API server is
        still writing (a last line without its newline) is left for the next call."""
        path = self.dir / "audit.log" if self.dir is not None else None
        if path is None or not path.exists():
            return []
        text = path.read_text()
        complete = text[: text.rfind("\n") + 1]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def restart_apiserver(self) -> None:
        """Stops kube-apiserver and starts it again on the same port and certificate."""
        c = self._components["kube-apiserver"]
        c.stop()
        c.start()
        self._wait_apiserver(c)

    def stop_apiserver(self) -> None:
        """Stops kube-apiserver (clients then find nothing listening) until
        :meth:`start_apiserver`."""
        self._components["kube-apiserver"].stop()

    def start_apiserver(self) -> None:
        """Starts kube-apiserver again after :meth:`stop_apiserver`, on the same port and
        certificate, and waits until it answers."""
        c = self._components["kube-apiserver"]
        c.start()
        self._wait_apiserver(c)

    def compact_etcd(self) -> int:
        """Compacts etcd's history up to its current revision (as etcd's periodic compaction does
        in a real cluster); returns that revision. A watch that resumes from an older revision is
        then answered with ``410 Gone``."""
        import urllib.request

        def post(path: str, body: dict[str, Any]) -> Any:
            req = urllib.request.Request(
                f"{self._etcd_url}{path}",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())

        revision = int(post("/v3/kv/range", {"key": "AA==", "limit": 1})["header"]["revision"])
        post("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        return revision

    def stop_etcd(self) -> None:
        """Stops etcd (the API server then fails its requests)."""
        self._components["etcd"].stop()

    def start_etcd(self) -> None:
        """Starts etcd again after :meth:`stop_etcd`, with the same data."""
        c = self._components["etcd"]
        c.start()
        self._wait_http(c, f"{self._etcd_url}/health", tls=False)

    def env(self) -> dict[str, str]:
        """Environment variables that point clients at this cluster."""
        return {"KUBECONFIG": self.kubeconfig_path, "KUBESCALE_TEST_KUBECONFIG": self.kubeconfig_path}
