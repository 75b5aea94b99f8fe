"""The Python surface: argument checks, configuration, errors, logging, reprs, sync-in-a-loop."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

import kubescale
import kubescale.asyncio
from kubescale.testing import ClusterAPI

from helpers import events_for, spec_replicas
from helpers.logs import capture_kubescale_logs


def unreachable_kubeconfig(tmp_path: Path, kube_cluster: ClusterAPI) -> Path:
    """The session cluster's kubeconfig pointed at a closed port: any request would fail."""
    cfg = json.loads(Path(kube_cluster.kubeconfig_path).read_text())
    cfg["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    path = tmp_path / "unreachable.kubeconfig"
    path.write_text(json.dumps(cfg))
    return path


@pytest.mark.parametrize(
    "replicas,exc",
    [
        (-1, ValueError),
        (2**31, ValueError),
        (2**80, ValueError),
        (True, TypeError),
        (1.5, TypeError),
        ("3", TypeError),
        (None, TypeError),
    ],
)
def test_bad_replicas_fail_before_any_request(
    tmp_path: Path, kube_cluster: ClusterAPI, replicas: object, exc: type[Exception]
) -> None:
    # The handler points at a closed port: a request would raise ApiUnavailableError instead.
    h = kubescale.ScaleHandler(kubeconfig=unreachable_kubeconfig(tmp_path, kube_cluster))
    with pytest.raises(exc, match="replicas"):
        h.scale("deploy/web", replicas)  # type: ignore[arg-type]


# One of each way a reference is malformed; the core's table test (`target.rs`) has them all.
@pytest.mark.parametrize("target", ["", "a/b/c", "deploy/Web", "deploy/../x"])
def test_malformed_targets(handler: kubescale.ScaleHandler, target: str) -> None:
    with pytest.raises(kubescale.InvalidTargetError) as err:
        handler.scale(target, 1)
    assert isinstance(err.value, ValueError)
    assert f'"{target}"' in str(err.value)
    assert handler.resolve("deploy").kind == "Deployment"  # still usable


def test_target_is_required(handler: kubescale.ScaleHandler) -> None:
    with pytest.raises(TypeError, match="target is required"):
        handler.scale(replicas=1)


def test_bad_namespace_name(handler: kubescale.ScaleHandler) -> None:
    with pytest.raises(kubescale.InvalidValueError, match="namespace"):
        handler.scale("deploy/web", 1, namespace="Not_A_Namespace")


def test_missing_kubeconfig_and_unknown_context(tmp_path: Path, kube_cluster: ClusterAPI) -> None:
    with pytest.raises(kubescale.ConfigError, match="cannot read kubeconfig"):
        kubescale.ScaleHandler(kubeconfig=tmp_path / "nope")
    with pytest.raises(kubescale.ConfigError, match="no-such-context"):
        kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path, context="no-such-context")
    garbage = tmp_path / "garbage"
    garbage.write_text("clusters: [this is: not, a kubeconfig")
    with pytest.raises(kubescale.ConfigError, match="cannot read kubeconfig"):
        kubescale.ScaleHandler(kubeconfig=garbage)
    with pytest.raises(kubescale.ConfigError, match="cannot read kubeconfig"):
        kubescale.ScaleHandler(kubeconfig=tmp_path)  # a directory: unreadable as a file


def test_kubeconfig_env_paths_are_merged(
    tmp_path: Path, kube_cluster: ClusterAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = json.loads(Path(kube_cluster.kubeconfig_path).read_text())
    # A second file adds a context with another default namespace, on the same cluster and user.
    extra = {
        "apiVersion": "v1",
        "kind": "Config",
        "contexts": [{"name": "team-a", "context": {**cfg["contexts"][0]["context"], "namespace": "team-a"}}],
    }
    (tmp_path / "extra").write_text(json.dumps(extra))
    monkeypatch.setenv("KUBECONFIG", f"{kube_cluster.kubeconfig_path}:{tmp_path / 'extra'}")
    h = kubescale.ScaleHandler(context="team-a")
    assert (h.context, h.default_namespace, h.namespace) == ("team-a", "team-a", None)
    assert h.resolve("deploy").plural == "deployments"
    assert kubescale.ScaleHandler().default_namespace == "default"


def test_repr_messages_and_logs_never_show_credentials(
    kube_cluster: ClusterAPI, namespace: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A full run (discovery, scales, errors, events, waits) logged at the most verbose level."""
    caplog.set_level(1)  # below DEBUG: Rust's TRACE records too
    kubescale.reset_logging()
    kube_cluster.create_deployment(namespace, "web", 1)
    texts = []
    with kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path) as h:
        texts.append(repr(h))
        assert kube_cluster.server in texts[0] and "kubescale-local" in texts[0]
        h.resources()
        h.scale("deploy/web", 2, namespace=namespace)
        h.scale_to_zero("deploy/web", namespace=namespace)
        h.scale_from_zero("deploy/web", namespace=namespace)
        texts += [repr(e) for e in h.events("deploy/web", namespace=namespace)]
        for call in (
            lambda: h.scale("deploy/absent", 2, namespace=namespace),
            lambda: h.wait_for_replicas("deploy/web", timeout=0.3, namespace=namespace),
        ):
            with pytest.raises(kubescale.KubeScaleError) as err:
                call()
            texts.append(str(err.value))
    cfg = json.loads(Path(kube_cluster.kubeconfig_path).read_text())
    bad = {**cfg, "users": [{"name": cfg["users"][0]["name"], "user": {"token": "s3cr3t-wrong-token"}}]}
    (tmp_path / "bad").write_text(json.dumps(bad))
    with pytest.raises(kubescale.UnauthorizedError) as err:
        kubescale.ScaleHandler(kubeconfig=tmp_path / "bad").resolve("deploy")
    texts.append(str(err.value))
    assert len(caplog.records) > 10
    assert any(r.levelno < logging.DEBUG for r in caplog.records), "no TRACE records were captured"
    texts += [r.getMessage() for r in caplog.records]
    for secret in (kube_cluster.token, "s3cr3t-wrong-token", "Bearer "):
        assert not [t for t in texts if secret in t], secret


def test_python_logging_level_is_honoured(
    handler: kubescale.ScaleHandler,
    kube_cluster: ClusterAPI,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    capture_kubescale_logs(caplog, logging.WARNING)
    handler.scale("deploy/web", 2, namespace=namespace)
    assert not [r for r in caplog.records if r.name.startswith("kubescale") and r.levelno < logging.WARNING]
    capture_kubescale_logs(caplog, logging.INFO)
    handler.scale("deploy/web", 3, namespace=namespace)
    assert [r for r in caplog.records if r.name.startswith("kubescale") and r.levelno == logging.INFO]


def test_values_are_immutable_with_readable_reprs(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    result = handler.scale("deploy/web", 2, namespace=namespace)
    scale = handler.get_scale("deploy/web", namespace=namespace)
    resource = handler.resolve("deploy")
    for value, attr in ((result, "replicas"), (scale, "spec_replicas"), (resource, "kind")):
        with pytest.raises(AttributeError):
            setattr(value, attr, 0)
    assert repr(result).startswith(
        "ScaleResult(target='deployment.apps/web', previous=1, replicas=2, changed=True"
    )
    assert "spec_replicas=2" in repr(scale)
    assert resource.short_names == ["deploy"] and resource.api_version == "apps/v1"
    assert "<table>" in result._repr_html_()


def test_closed_handler_refuses_calls(kube_cluster: ClusterAPI) -> None:
    with kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path) as h:
        pass
    with pytest.raises(kubescale.HandlerClosedError):
        h.resolve("deploy")


async def test_sync_api_works_inside_a_running_event_loop(kube_cluster: ClusterAPI, namespace: str) -> None:
    # As in Jupyter or a kopf handler: a loop is running in this thread.
    assert asyncio.get_running_loop().is_running()
    kube_cluster.create_deployment(namespace, "web", 1)
    h = kubescale.ScaleHandler(kubeconfig=kube_cluster.kubeconfig_path)
    assert h.scale("deploy/web", 2, namespace=namespace).replicas == 2


async def test_async_api_has_the_same_methods(kube_cluster: ClusterAPI, namespace: str) -> None:
    sync_methods = {m for m in dir(kubescale.ScaleHandler) if not m.startswith("_")}
    async_methods = {m for m in dir(kubescale.asyncio.ScaleHandler) if not m.startswith("_")}
    # Plus aclose(): close() without blocking the loop (asyncio's habit: contextlib.aclosing).
    assert async_methods == sync_methods | {"aclose"}
    kube_cluster.create_deployment(namespace, "web", 1)
    async with kubescale.asyncio.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path) as h:
        assert (await h.resolve("deploy")).kind == "Deployment"
        assert (await h.scale("deploy/web", 3)).changed
        assert (await h.scale_to_zero("deploy/web")).previous == 3
        assert (await h.scale_from_zero("deploy/web")).replicas == 3
        assert (await h.get_scale("deploy/web")).spec_replicas == 3
        with pytest.raises(kubescale.NotFoundError):
            await h.scale("deploy/absent", 1)
        with pytest.raises(kubescale.WaitTimeoutError):
            await h.wait_for_replicas("deploy/web", timeout=0.5)


def test_one_async_handler_serves_loops_one_after_another_and_side_by_side(
    kube_cluster: ClusterAPI, namespace: str
) -> None:
    # asyncio.run twice (as scripts and test runners do), then two threads with a loop each.
    for i in range(4):
        kube_cluster.create_deployment(namespace, f"web{i}", 1)
    h = kubescale.asyncio.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path)

    async def scale_all(value: int, names: list[str]) -> list[int]:
        results = await asyncio.gather(*(h.scale(f"deploy/{n}", value) for n in names))
        return [r.replicas for r in results]

    assert asyncio.run(scale_all(2, ["web0", "web1"])) == [2, 2]
    assert asyncio.run(scale_all(3, ["web0", "web1"])) == [3, 3]
    seen: dict[str, list[int]] = {}

    def in_thread(name: str) -> None:
        seen[name] = asyncio.run(scale_all(4, [name]))

    threads = [threading.Thread(target=in_thread, args=(f"web{i}",)) for i in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert seen == {"web2": [4], "web3": [4]}
    path = "/apis/apps/v1/namespaces/{ns}/deployments/web"
    assert [spec_replicas(kube_cluster, namespace, f"{path}{i}") for i in range(4)] == [3, 3, 4, 4]
    # A call made outside any running loop says so.
    with pytest.raises(RuntimeError, match="no running event loop"):
        h.get_scale("deploy/web0")


def test_awaitable_made_on_one_loop_resolves_after_another_loop_ran(
    kube_cluster: ClusterAPI, namespace: str
) -> None:
    # One thread alternating two loops, with an operation of the first still in flight.
    kube_cluster.create_deployment(namespace, "web", 1)
    h = kubescale.asyncio.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path)
    a, b = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:

        async def start() -> Any:
            return h.scale("deploy/web", 2)  # not awaited: it runs while loop b does

        pending = a.run_until_complete(start())

        async def on_b() -> int:
            return (await h.get_scale("deploy/web")).spec_replicas

        assert b.run_until_complete(on_b()) in (1, 2)
        result = a.run_until_complete(asyncio.wait_for(pending, timeout=10))
        assert result.replicas == 2
    finally:
        a.close()
        b.close()


def test_async_api_works_on_a_loop_without_add_reader(kube_cluster: ClusterAPI, namespace: str) -> None:
    # Like Windows' proactor loop: results then arrive through call_soon_threadsafe.
    class NoReaders(asyncio.SelectorEventLoop):
        def add_reader(self, *args: Any) -> None:
            raise NotImplementedError

    kube_cluster.create_deployment(namespace, "web", 1)
    h = kubescale.asyncio.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path)

    async def main() -> list[int]:
        results = await asyncio.gather(*(h.scale("deploy/web", 2) for _ in range(5)))
        with pytest.raises(kubescale.NotFoundError):
            await h.get_scale("deploy/absent")
        return [r.replicas for r in results]

    loop = NoReaders()
    try:
        assert loop.run_until_complete(main()) == [2] * 5
    finally:
        loop.close()


async def test_cancelled_awaitable_leaves_handler_usable(kube_cluster: ClusterAPI, namespace: str) -> None:
    kube_cluster.create_deployment(namespace, "web", 0)
    h = kubescale.asyncio.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(h.wait_for_replicas("deploy/web", 3, timeout=30), timeout=0.3)
    assert (await h.scale("deploy/web", 1)).replicas == 1


def test_sync_calls_from_threads_run_in_parallel(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    for i in range(8):
        kube_cluster.create_deployment(namespace, f"web{i}", 0)

    # A wait that cannot finish holds one thread; the others still complete meanwhile.
    def wait_in_vain() -> None:
        with pytest.raises(kubescale.WaitTimeoutError):
            handler.wait_for_replicas("deploy/web0", 5, timeout=3, namespace=namespace)

    blocker = threading.Thread(target=wait_in_vain)
    blocker.start()
    results: list[kubescale.ScaleResult] = []
    threads = [
        threading.Thread(
            target=lambda i=i: results.append(handler.scale(f"deploy/web{i}", 2, namespace=namespace))
        )
        for i in range(1, 8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=2.5)
    assert blocker.is_alive(), "the blocking wait should still be running"
    assert len(results) == 7
    blocker.join()


def test_unreachable_server_is_api_unavailable(tmp_path: Path, kube_cluster: ClusterAPI) -> None:
    h = kubescale.ScaleHandler(kubeconfig=unreachable_kubeconfig(tmp_path, kube_cluster), timeout=2)
    with pytest.raises(kubescale.ApiUnavailableError) as err:
        h.get_scale("deploy/web")
    assert isinstance(err.value, ConnectionError)


def test_wrong_token_is_unauthorized(tmp_path: Path, kube_cluster: ClusterAPI) -> None:
    cfg = json.loads(Path(kube_cluster.kubeconfig_path).read_text())
    cfg["users"][0]["user"]["token"] = "not-the-token"
    path = tmp_path / "bad-token"
    path.write_text(json.dumps(cfg))
    with pytest.raises(kubescale.UnauthorizedError) as err:
        kubescale.ScaleHandler(kubeconfig=path).resolve("deploy")
    assert err.value.status == 401
    assert "not-the-token" not in str(err.value)


def test_processes_using_the_async_api_exit_cleanly(
    kube_cluster: ClusterAPI, namespace: str, tmp_path: Path
) -> None:
    """Results handed to asyncio from runtime threads must not race interpreter shutdown."""
    import subprocess
    import sys

    for i in range(10):
        kube_cluster.create_deployment(namespace, f"web-{i}", 1)
    script = tmp_path / "fanout.py"
    script.write_text(
        "import asyncio, sys\n"
        "from kubescale.asyncio import ScaleHandler\n"
        "async def main():\n"
        "    async with ScaleHandler(sys.argv[1], kubeconfig=sys.argv[2]) as h:\n"
        "        n = int(sys.argv[3])\n"
        "        await asyncio.gather(*(h.scale(f'deployment/web-{i}', n) for i in range(10)))\n"
        "asyncio.run(main())\n"
    )
    codes = [
        subprocess.run(
            [sys.executable, str(script), namespace, kube_cluster.kubeconfig_path, str(1 + run % 2)],
            capture_output=True,
            timeout=60,
        ).returncode
        for run in range(15)
    ]
    assert codes == [0] * 15


async def test_aclose_writes_the_queued_events_without_blocking_the_loop(
    kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    h = kubescale.asyncio.ScaleHandler(namespace, kubeconfig=kube_cluster.kubeconfig_path)
    await h.scale("deploy/web", 2)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    before = ticks
    await h.aclose()
    ticker.cancel()
    assert ticks > before, "the loop ran other tasks while aclose() flushed"
    notes = [e["note"] for e in events_for(kube_cluster, namespace, "web")]
    assert notes == ["Scaled deployment.apps/web from 1 to 2 replicas"]
    with pytest.raises(kubescale.HandlerClosedError):
        await h.get_scale("deploy/web")


def test_events_are_typed_and_the_dict_access_is_deprecated(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    handler.scale("deploy/web", 2, namespace=namespace)
    ours = [e for e in handler.events("deploy/web", namespace=namespace) if e.reporter == "kubescale"]
    assert [type(e) for e in ours] == [kubescale.Event]
    event = ours[0]
    assert (event.type, event.reason) == ("Normal", "SuccessToScale")
    assert event.to_dict()["note"] == event.note == "Scaled deployment.apps/web from 1 to 2 replicas"
    with pytest.warns(DeprecationWarning, match="use the attribute"):
        assert event["note"] == event.note
    with pytest.warns(DeprecationWarning), pytest.raises(KeyError):
        event["nonsense"]


def test_wait_reports_progress_through_on_progress(
    handler: kubescale.ScaleHandler, kube_cluster: ClusterAPI, namespace: str
) -> None:
    kube_cluster.create_deployment(namespace, "web", 1)
    seen: list[tuple[int, int]] = []
    with pytest.raises(kubescale.WaitTimeoutError) as err:
        handler.wait_for_replicas(
            "deploy/web", timeout=0.5, namespace=namespace, on_progress=lambda s, w: seen.append((s, w))
        )
    assert seen == [(0, 1)], "told once, with the count at the start"
    assert str(err.value).startswith("timed out after 0.5s waiting for deploy/web ready replicas")
    with pytest.raises(TypeError, match="on_progress must be callable"):
        handler.wait_for_replicas("deploy/web", namespace=namespace, on_progress=3)  # type: ignore[arg-type]
