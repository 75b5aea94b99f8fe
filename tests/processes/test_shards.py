"""The loop sharded across replicas: 3 processes (each its own ServiceAccount, so the audit log
tells their writes apart), 12 shards, 60 services; a replica killed, restarted, paused."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

import kubescale
from kubescale.testing import ClusterAPIError, LocalCluster

from helpers import Idle, create_es, elasti_service, idle_services
from helpers.accounts import namespace_admin_kubeconfig

SHARDS = 12
SERVICES = [f"s{i}" for i in range(60)]
LEASE = 3.0  # the workers' Lease duration, seconds
WORKER = str(Path(__file__).resolve().parents[1] / "helpers" / "shard_worker.py")


def shard_of(namespace: str, name: str, shards: int) -> int:
    """The documented hash: FNV-1a (64 bits) of ``namespace/name``, modulo the shards."""
    h = 0xCBF29CE484222325
    for b in f"{namespace}/{name}".encode():
        h = ((h ^ b) * 0x100000001B3) % 2**64
    return h % shards


class Replicas:
    """The worker processes, their users and what the cluster says they hold."""

    def __init__(self, cluster: LocalCluster, ns: str, directory: Path) -> None:
        self.cluster, self.ns, self.dir = cluster, ns, directory
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.kubeconfigs = {sa: namespace_admin_kubeconfig(cluster, ns, sa, directory) for sa in "abc"}

    def start(self, sa: str) -> None:
        cmd = [sys.executable, WORKER, str(self.kubeconfigs[sa]), self.ns, str(self.dir), str(SHARDS)]
        log = open(self.dir / f"{sa}.log", "ab")
        self.procs[sa] = subprocess.Popen(cmd, stdout=log, stderr=log)

    def pid(self, sa: str) -> int:
        return self.procs[sa].pid

    def sa_of_pid(self, pid: int) -> str:
        return next(sa for sa, p in self.procs.items() if p.pid == pid)

    def holders(self) -> dict[int, str]:
        """Shard → the ServiceAccount whose process holds its Lease now ('' if none)."""
        path = f"/apis/coordination.k8s.io/v1/namespaces/{self.ns}/leases"
        items = self.cluster.request("GET", f"{path}?labelSelector=kubescale.io/lease-role=shard")["items"]
        out: dict[int, str] = {}
        for lease in items:
            holder = lease["spec"].get("holderIdentity") or ""
            pid = int(holder.rsplit("-", 1)[1]) if holder else 0
            live = [sa for sa, p in self.procs.items() if p.pid == pid]
            out[int(lease["metadata"]["labels"]["kubescale.io/shard"])] = live[0] if live else ""
        return out

    def shares(self) -> Counter[str]:
        return Counter(sa for sa in self.holders().values() if sa)

    def wait(self, check: Callable[[], bool], what: str, timeout: float = 60) -> float:
        started = time.monotonic()
        while not check():
            for sa, p in self.procs.items():
                if p.poll() is not None and p.returncode not in (-9, -15):
                    raise AssertionError(f"{sa} exited: {(self.dir / f'{sa}.log').read_text()[-2000:]}")
            assert time.monotonic() - started < timeout, f"timed out waiting for {what}: {self.holders()}"
            time.sleep(0.1)
        return time.monotonic() - started

    def balanced(self, live: str) -> bool:
        h = self.holders()
        counts = self.shares()
        return (
            len(h) == SHARDS
            and all(h.get(i) in live for i in range(SHARDS))
            and set(counts) == set(live)
            and all(SHARDS // len(live) - 1 <= n <= -(-SHARDS // len(live)) + 1 for n in counts.values())
        )

    def asked_since(self, since: float) -> dict[str, set[str]]:
        """Service → the ServiceAccounts whose process asked its scaler after `since`."""
        out: dict[str, set[str]] = defaultdict(set)
        for line in (self.dir / "asked.log").read_text().splitlines():
            pid, service, at = line.split()
            if float(at) > since:
                out[service].add(self.sa_of_pid(int(pid)))
        return out

    def stop_all(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                os.kill(p.pid, signal.SIGCONT)
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    rule = {"level": "Metadata", "omitStages": ["RequestReceived"]}
    with LocalCluster(audit_rules=[rule]) as c:
        with kubescale.ScaleHandler(kubeconfig=c.kubeconfig_path) as h:
            h.install_crds()
        yield c


def scale_writes(cluster: LocalCluster, ns: str, since: int) -> dict[str, list[tuple[str, str]]]:
    """Deployment → (user, time) of every write of its scale or object since audit entry `since`."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    prefix = f"/apis/apps/v1/namespaces/{ns}/deployments/"
    for e in cluster.audit_entries()[since:]:
        uri = e["requestURI"].split("?")[0]
        user = e["user"]["username"]
        ours = user.startswith(f"system:serviceaccount:{ns}:")
        wrote = e["verb"] in ("patch", "update") and e["responseStatus"]["code"] < 300
        if ours and wrote and uri.startswith(prefix):
            name = uri[len(prefix) :].split("/")[0]
            out[name].append((user.rsplit(":", 1)[1], e["stageTimestamp"]))
    return out


def counts(cluster: LocalCluster, ns: str) -> dict[str, int]:
    items = cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments")["items"]
    return {d["metadata"]["name"]: int(d["spec"].get("replicas", 0)) for d in items}


def assert_written_by_holders(r: Replicas, cluster: LocalCluster, ns: str, start: int) -> None:
    """Every service's target was written (audit log from entry `start`), and only by the
    replica that holds the service's shard."""
    time.sleep(0.5)  # entries are written as responses complete
    writes = scale_writes(cluster, ns, start)
    expected = owners(r, ns)
    assert {s: {u for u, _ in w} for s, w in writes.items()} == {s: {expected[s]} for s in SERVICES}


def owners(r: Replicas, ns: str) -> dict[str, str]:
    h = r.holders()
    return {s: h[shard_of(ns, s, SHARDS)] for s in SERVICES}


def asked_while_held(r: Replicas, ns: str, timeout: float = 60) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Who asked each service's scaler, and each service's holder, over a window in which no shard
    changed hands: from a second after a look at the holders (a pass begun before it may still
    ask) until every service was asked. Starts again if a shard moved meanwhile (a balanced
    share may still be settling from 5/4/3 to 4/4/4)."""
    deadline = time.monotonic() + timeout
    while True:
        expected = owners(r, ns)
        since = time.time() + 1
        r.wait(lambda t=since: set(r.asked_since(t)) >= set(SERVICES), "every service asked", timeout)
        if owners(r, ns) == expected:
            return r.asked_since(since), expected
        assert time.monotonic() < deadline, f"shards still moving after {timeout} s: {r.holders()}"


def test_three_replicas_share_twelve_shards_and_hand_them_over(cluster: LocalCluster, tmp_path: Path) -> None:
    ns = cluster.create_namespace()
    r = Replicas(cluster, ns, tmp_path)
    for s in SERVICES:
        cluster.create_deployment(ns, s, 1)
        es = elasti_service(s, "unused", target=s, trigger_type="shard-recorder", cooldown=1)
        es["spec"]["triggers"][0]["metadata"] = {"dir": str(tmp_path), "service": s}
        create_es(cluster, ns, es, age=False)
    (tmp_path / "asked.log").touch()
    try:
        for sa in "abc":
            r.start(sa)
        took = r.wait(lambda: r.balanced("abc"), "4 ± 1 shards each")
        print(f"balanced in {took:.1f}s: {r.shares()}")
        # Every service is decided, each by exactly one replica: the one holding its shard.
        asked, expected = asked_while_held(r, ns)
        assert {s: sorted(v) for s, v in asked.items()} == {s: [expected[s]] for s in SERVICES}

        # To zero: each target written only by the replica holding its shard.
        start = len(cluster.audit_entries())
        (tmp_path / "zero").touch()
        r.wait(lambda: set(counts(cluster, ns).values()) == {0}, "every target at 0")
        assert_written_by_holders(r, cluster, ns, start)

        # kill -9 one: its shards are taken over within about a Lease duration and a tick.
        gone = max(r.shares(), key=lambda sa: r.shares()[sa])
        os.kill(r.pid(gone), signal.SIGKILL)
        r.procs[gone].wait()
        live = "".join(sa for sa in "abc" if sa != gone)
        took = r.wait(lambda: r.balanced(live), f"{live} holding every shard")
        print(f"taken over in {took:.1f}s after kill -9: {r.shares()}")
        assert took < 3 * LEASE
        asked, expected = asked_while_held(r, ns)
        assert {s: sorted(v) for s, v in asked.items()} == {s: [expected[s]] for s in SERVICES}
        assert gone not in expected.values()

        # Back up: written by the survivors only, each target by its shard's holder.
        start = len(cluster.audit_entries())
        (tmp_path / "zero").unlink()
        r.wait(lambda: set(counts(cluster, ns).values()) == {1}, "every target back at 1")
        assert_written_by_holders(r, cluster, ns, start)

        # It comes back: the shares rebalance.
        r.start(gone)
        took = r.wait(lambda: r.balanced("abc"), "rebalanced across 3 again")
        print(f"rebalanced in {took:.1f}s after the restart: {r.shares()}")

        # A paused replica, resumed after its shards were taken, writes nothing for them.
        paused = max(r.shares(), key=lambda sa: r.shares()[sa])
        os.kill(r.pid(paused), signal.SIGSTOP)
        live = "".join(sa for sa in "abc" if sa != paused)
        r.wait(lambda: r.balanced(live), f"{live} holding every shard while {paused} is stopped")
        start = len(cluster.audit_entries())
        (tmp_path / "zero").touch()
        r.wait(lambda: set(counts(cluster, ns).values()) == {0}, "every target at 0")
        os.kill(r.pid(paused), signal.SIGCONT)
        r.wait(lambda: r.balanced("abc"), "rebalanced after the pause")
        time.sleep(2)
        writes = scale_writes(cluster, ns, start)
        assert not [s for s, w in writes.items() if any(u == paused for u, _ in w)], writes
        assert all(len({u for u, _ in w}) == 1 for w in writes.values()), writes
    finally:
        r.stop_all()
    # On the way out every replica gave its shards up and deleted its membership Lease; only the
    # one killed with -9 left its own behind.
    leases = cluster.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases")["items"]
    labels = {x["metadata"]["name"]: x["metadata"].get("labels", {}) for x in leases}
    role = {name: lb.get("kubescale.io/lease-role") for name, lb in labels.items()}
    assert sum(1 for v in role.values() if v == "member") == 1, role
    assert not [
        x["spec"].get("holderIdentity")
        for x in leases
        if role[x["metadata"]["name"]] == "shard" and x["spec"].get("holderIdentity")
    ]


def test_one_shard_is_the_single_lease_of_today(cluster: LocalCluster) -> None:
    ns = cluster.create_namespace(wait_for_service_account=False)
    with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path) as h:
        with pytest.raises(kubescale.InvalidValueError, match="shards"):
            h.run(shards=0)
        with pytest.raises(kubescale.InvalidValueError, match="shards"):
            h.run(shards=5000)
        assert h.check_and_scale() == []  # usable afterwards


@contextlib.contextmanager
def idle_run(cluster: LocalCluster, ns: str, **options: Any) -> Iterator[kubescale.ScaleHandler]:
    """A handler of ``ns`` with the ``idle`` scaler whose ``run()`` (0.2 s passes, 3 s Leases,
    ``options``) is live in a thread; closed, and its thread joined, on exit."""
    h = kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path)
    h.register_scaler("idle", Idle)
    loop = threading.Thread(target=h.run, kwargs={"polling_interval": 0.2, "lease_duration": 3.0, **options})
    loop.start()
    try:
        yield h
    finally:
        h.close()
        loop.join(30)


def passes_done(h: kubescale.ScaleHandler) -> float:
    m = re.search(r"^kubescale_passes_total (\S+)", h.metrics(), re.M)
    return float(m.group(1)) if m else 0.0


def test_a_sharded_run_shows_its_shards_and_their_decisions_in_its_metrics(cluster: LocalCluster) -> None:
    """One replica of a 3-shard run holds every shard (``kubescale_shards_owned``) and counts
    each decision under its service's shard (``kubescale_shard_decisions_total{shard}``)."""
    ns = cluster.create_namespace(wait_for_service_account=False)
    names = [f"m{i}" for i in range(6)]
    idle_services(cluster, ns, names)
    with idle_run(cluster, ns, shards=3, lease_name="metrics") as h:
        deadline = time.monotonic() + 60
        while set(counts(cluster, ns).values()) != {0}:
            assert time.monotonic() < deadline, f"not every target at 0: {counts(cluster, ns)}"
            time.sleep(0.2)
        # A decision is counted when its service is done (the status written after the scale):
        # read the metrics once a pass has ended after the targets reached 0.
        ended = passes_done(h)
        while passes_done(h) <= ended:
            assert time.monotonic() < deadline, "no pass ended after the targets reached 0"
            time.sleep(0.05)
        text = h.metrics()
    assert re.search(r"^kubescale_shards_owned 3$", text, re.M), text
    counted = r'^kubescale_shard_decisions_total\{shard="(\d+)"\} [1-9]'
    decided = {int(s) for s in re.findall(counted, text, re.M)}
    assert decided == {shard_of(ns, s, 3) for s in names}, text


def foreign_lease(cluster: LocalCluster, ns: str, name: str, labels: dict[str, str]) -> None:
    """A Lease another replica holds and will not let expire within the test (an hour)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "labels": labels},
        "spec": {"holderIdentity": "other-replica", "leaseDurationSeconds": 3600, "renewTime": now},
    }
    cluster.apply_json(f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", lease)


def lease_holder(cluster: LocalCluster, ns: str, name: str) -> str:
    try:
        lease = cluster.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}")
    except ClusterAPIError:
        return ""
    return str(lease["spec"].get("holderIdentity") or "")


def test_a_pass_made_by_hand_during_a_run_never_acts_for_another_replica(cluster: LocalCluster) -> None:
    """While ``run()`` is live on a handler, ``check_and_scale()`` and
    ``check_and_scale_service()`` made by hand on it act under the run's ownership: with shards,
    never on a service of a shard another replica holds; with leader election, nothing while
    another process holds the Lease."""
    ns = cluster.create_namespace(wait_for_service_account=False)
    names = [f"h{i}" for i in range(9)]
    idle_services(cluster, ns, names)
    group = {"kubescale.io/lease-group": "hand", "kubescale.io/lease-role": "shard"}
    for i in (1, 2):
        foreign_lease(cluster, ns, f"hand-{i}", {**group, "kubescale.io/shard": str(i)})
    foreign_lease(cluster, ns, "single", {})
    mine = [s for s in names if shard_of(ns, s, 3) == 0]
    theirs = [s for s in names if shard_of(ns, s, 3) != 0]
    assert mine and theirs

    # Shards: this replica holds shard 0 only.
    with idle_run(cluster, ns, shards=3, lease_name="hand") as h:
        taken = lambda: lease_holder(cluster, ns, "hand-0") not in ("", "other-replica")  # noqa: E731
        cluster.wait_for(taken, "shard 0 taken")
        decided = {d.name for d in h.check_and_scale()}
        assert decided <= set(mine), decided
        for s in theirs:
            d = h.check_and_scale_service(s)
            assert (d.direction, d.reason) == ("no_scale", "another replica's shard"), d
        at_zero = lambda: all(counts(cluster, ns)[s] == 0 for s in mine)  # noqa: E731
        cluster.wait_for(at_zero, "this replica's targets at 0")
        assert all(counts(cluster, ns)[s] == 1 for s in theirs), counts(cluster, ns)

    # Leader election: another process holds the Lease, this one follows.
    h = kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path)
    h.register_scaler("idle", Idle)
    asked = "kubescale_api_requests_total" + '{verb="get",code="200"}'

    def lease_reads() -> float:
        m = re.search(r"^" + re.escape(asked) + r" (\S+)", h.metrics(), re.M)
        return float(m.group(1)) if m else 0.0

    before = lease_reads()
    options = {"polling_interval": 0.2, "leader_election": True, "lease_name": "single"}
    loop = threading.Thread(target=h.run, kwargs=options)
    loop.start()
    try:
        cluster.wait_for(lambda: lease_reads() > before, "the run read the Lease")
        decisions = h.check_and_scale()
        assert decisions and all(d.reason == "not the leader" for d in decisions), decisions
        assert h.check_and_scale_service(theirs[0]).reason == "not the leader"
        assert all(counts(cluster, ns)[s] == 1 for s in theirs), counts(cluster, ns)
    finally:
        h.close()
        loop.join(30)
    # With no run live, a pass made by hand acts on every service.
    with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path) as h:
        h.register_scaler("idle", Idle)
        decisions = h.check_and_scale()
        assert set(counts(cluster, ns).values()) == {0}, (counts(cluster, ns), decisions)
