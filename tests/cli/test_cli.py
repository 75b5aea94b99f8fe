"""The ``kubescale`` command line against the local cluster."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from kubescale.testing import ClusterAPI


def cli(cluster: ClusterAPI, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubescale.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "KUBECONFIG": cluster.kubeconfig_path},
    )


def test_console_script_is_installed() -> None:
    exe = shutil.which("kubescale", path=str(Path(sys.executable).parent))
    assert exe is not None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.startswith("kubescale ")


def test_get_scale_and_round_trip(kube_cluster: ClusterAPI, namespace: str) -> None:
    kube_cluster.create_deployment(namespace, "web", 2)
    out = cli(kube_cluster, "get", "deploy/web", "-n", namespace, "-o", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["spec_replicas"] == 2

    out = cli(kube_cluster, "scale", "deploy/web", "4", "-n", namespace)
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.splitlines()
    assert header.split() == ["TARGET", "PREVIOUS", "REPLICAS", "CHANGED", "REASON"]
    assert row.split()[:4] == ["deployment.apps/web", "2", "4", "True"]

    out = cli(kube_cluster, "scale-to-zero", "deploy/web", "-n", namespace, "-o", "yaml")
    assert out.returncode == 0 and "replicas: 0" in out.stdout and "previous: 4" in out.stdout
    out = cli(kube_cluster, "scale-from-zero", "deploy/web", "-n", namespace, "-o", "json")
    assert json.loads(out.stdout)["replicas"] == 4

    out = cli(kube_cluster, "events", "deploy/web", "-n", namespace, "-o", "json")
    notes = [e["note"] for e in json.loads(out.stdout) if e["reporter"] == "kubescale"]
    assert notes[-1] == "Scaled deployment.apps/web from 0 to 4 replicas"


def test_no_events_flag(kube_cluster: ClusterAPI, namespace: str) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    out = cli(kube_cluster, "scale", "deploy/web", "3", "-n", namespace, "--no-events")
    assert out.returncode == 0, out.stderr
    out = cli(kube_cluster, "events", "deploy/web", "-n", namespace, "-o", "json")
    assert out.returncode == 0, out.stderr
    assert [e for e in json.loads(out.stdout) if e["reporter"] == "kubescale"] == []
    out = cli(kube_cluster, "scale", "deploy/web", "2", "-n", namespace)
    out = cli(kube_cluster, "events", "deploy/web", "-n", namespace, "-o", "json")
    ours = [e["note"] for e in json.loads(out.stdout) if e["reporter"] == "kubescale"]
    assert ours == ["Scaled deployment.apps/web from 3 to 2 replicas"]


def test_wait_prints_plain_progress_lines_off_a_terminal(kube_cluster: ClusterAPI, namespace: str) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    out = cli(kube_cluster, "wait", "deploy/web", "-n", namespace, "--timeout", "2.5")
    assert out.returncode == 1
    assert "deploy/web: 0/1 ready after" in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("kubescale: error: timed out after 2.5s")
    assert "Traceback" not in out.stderr


def test_errors_are_one_line_with_exit_codes(kube_cluster: ClusterAPI, namespace: str) -> None:
    out = cli(kube_cluster, "scale", "deploy/absent", "1", "-n", namespace)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "not found" in out.stderr and "Traceback" not in out.stderr
    out = cli(kube_cluster, "scale", "deploy/Bad_Name", "1", "-n", namespace)
    assert out.returncode == 2 and "invalid target" in out.stderr
    out = cli(kube_cluster, "scale", "deploy/web")  # replicas missing
    assert out.returncode == 2
    out = cli(kube_cluster, "frobnicate")
    assert out.returncode == 2


def test_run_scales_and_stops_cleanly_on_ctrl_c(kube_cluster: ClusterAPI, namespace: str) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubescale.cli",
            "run",
            "-n",
            namespace,
            "--polling-interval",
            "300ms",
            "--install-crds",
        ],
        env={**os.environ, "KUBECONFIG": kube_cluster.kubeconfig_path},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell running the tests in the background makes them inherit an ignored SIGINT, and
        # Python keeps it ignored: give the child the disposition a terminal user's has.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        time.sleep(3)
        assert proc.poll() is None, proc.communicate()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_wait_shows_a_live_progress_line_on_a_terminal(kube_cluster: ClusterAPI, namespace: str) -> None:
    import pty

    kube_cluster.create_deployment(namespace, "web", 1)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubescale.cli", "wait", "deploy/web", "-n", namespace, "--timeout", "2.5"],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env={**os.environ, "KUBECONFIG": kube_cluster.kubeconfig_path},
    )
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=30)
    os.close(leader)
    text = out.decode(errors="replace")
    assert proc.returncode == 1
    assert "\rdeploy/web: 0/1 ready, " in text  # rewritten in place
    assert "timed out after 2.5s" in text


def test_json_and_yaml_carry_every_field(kube_cluster: ClusterAPI, namespace: str) -> None:
    import yaml

    import kubescale

    kube_cluster.create_deployment(namespace, "web", 2)
    as_json = json.loads(cli(kube_cluster, "get", "deploy/web", "-n", namespace, "-o", "json").stdout)
    as_yaml = yaml.safe_load(cli(kube_cluster, "get", "deploy/web", "-n", namespace, "-o", "yaml").stdout)
    with kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path) as h:
        expected = h.get_scale("deploy/web", namespace=namespace).to_dict()
    assert as_json == as_yaml == expected
    assert list(as_json) == [
        "namespace",
        "name",
        "kind",
        "api_version",
        "spec_replicas",
        "status_replicas",
        "selector",
        "resource_version",
    ]
    out = cli(kube_cluster, "run", "-n", namespace, "--polling-interval", "5 parsecs")
    assert out.returncode == 2 and "--polling-interval" in out.stderr and "not a duration" in out.stderr


def test_fleet_forms_print_every_target_and_exit_1_when_one_failed(
    kube_cluster: ClusterAPI, namespace: str
) -> None:
    import yaml

    for name, n in {"a": 1, "b": 3, "c": 2}.items():
        kube_cluster.create_deployment(namespace, name, n, labels={"app": name, "team": "search"})
    kube_cluster.create_deployment(namespace, "other", 2, labels={"app": "other", "team": "ads"})

    def spec(name: str) -> int:
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
        return int(kube_cluster.request("GET", path)["spec"]["replicas"])

    # --current-replicas: b is not at 1, so it fails and a is done; exit 1.
    out = cli(kube_cluster, "scale", "deploy/a", "deploy/b", "--replicas", "2", "--current-replicas", "1",
              "-n", namespace, "-o", "json")  # fmt: skip
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    assert (data["changed"], data["failed"]) == (1, 1), data
    failed = [i for i in data["items"] if i["error"]]
    assert len(failed) == 1 and failed[0]["target"] == "deployment.apps/b", failed
    assert (spec("a"), spec("b")) == (2, 3)

    # A dry run of a selector writes nothing; the real one scales only the team's Deployments.
    out = cli(kube_cluster, "scale", "deploy", "-l", "team=search", "--replicas", "0", "-n", namespace,
              "--dry-run", "-o", "yaml")  # fmt: skip
    assert out.returncode == 0, out.stderr
    reasons = {i["target"]: i["reason"] for i in yaml.safe_load(out.stdout)["items"]}
    assert reasons == {
        "deployment.apps/a": "dry run: would scale from 2 to 0",
        "deployment.apps/b": "dry run: would scale from 3 to 0",
        "deployment.apps/c": "dry run: would scale from 2 to 0",
    }
    assert [spec(n) for n in ("a", "b", "c")] == [2, 3, 2]
    out = cli(kube_cluster, "scale", "deploy", "-l", "team=search", "--replicas", "0", "-n", namespace)
    assert out.returncode == 0, out.stderr
    assert [spec(n) for n in ("a", "b", "c", "other")] == [0, 0, 0, 2]

    # --all, then sleep and wake from the command line.
    out = cli(kube_cluster, "scale", "deploy", "--all", "--replicas", "1", "-n", namespace)
    assert out.returncode == 0 and [spec(n) for n in ("a", "b", "c", "other")] == [1, 1, 1, 1], out.stderr
    out = cli(kube_cluster, "sleep", "-n", namespace, "-o", "json")
    assert out.returncode == 0 and json.loads(out.stdout)["changed"] == 4, out.stdout + out.stderr
    assert [spec(n) for n in ("a", "b", "c", "other")] == [0, 0, 0, 0]
    out = cli(kube_cluster, "wake", "-n", namespace)
    assert out.returncode == 0, out.stderr
    assert [spec(n) for n in ("a", "b", "c", "other")] == [1, 1, 1, 1]
