"""A blocking call waits with the GIL released, and off the main thread it sleeps until its answer."""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import pytest

import kubescale

from helpers import write_kubeconfig

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")


def voluntary_switches(tid: int) -> int:
    """How many times thread `tid` has gone to sleep (its voluntary context switches)."""
    for line in Path(f"/proc/self/task/{tid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"no voluntary_ctxt_switches for thread {tid}")


def test_a_call_from_a_pool_thread_sleeps_until_its_answer(tmp_path: Path) -> None:
    # An API server that accepts connections and never answers: the call waits for its timeout.
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"https://127.0.0.1:{port}")
    tid: list[int] = []
    raised: list[BaseException] = []

    def call() -> None:
        tid.append(threading.get_native_id())
        with kubescale.ScaleHandler("ns", kubeconfig=kubeconfig, timeout=2.5) as h:
            try:
                h.get_scale("deploy/web")
            except kubescale.KubeScaleError as e:
                raised.append(e)

    worker = threading.Thread(target=call)
    worker.start()
    try:
        time.sleep(0.5)  # connected, the request waiting for an answer
        before = voluntary_switches(tid[0])
        time.sleep(1.5)
        woken = voluntary_switches(tid[0]) - before
    finally:
        worker.join(30)
        silent.close()
    # Python delivers signals to the main thread only, so a wait elsewhere has no reason to wake
    # (and take the GIL back) before its answer comes: here, the timeout at 2.5 s.
    assert woken <= 2, f"the waiting thread woke {woken} times in 1.5 s"
    assert raised and isinstance(raised[0], kubescale.ApiUnavailableError), raised
