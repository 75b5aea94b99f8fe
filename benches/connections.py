"""How many TCP connections to the API server a burst of 128 concurrent scales opens."""

import asyncio
import os
import subprocess

import kubescale.asyncio
from kubescale.testing import LocalCluster

with LocalCluster(controller_manager=False) as cluster:
    ns = cluster.create_namespace(wait_for_service_account=False)
    for i in range(128):
        cluster.create_deployment(ns, f"w{i}", 0)
    port = cluster.server.rsplit(":", 1)[1]

    async def burst() -> int:
        async with kubescale.asyncio.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path) as h:
            await asyncio.gather(*(h.scale(f"deploy/w{i}", 1) for i in range(128)))
            out = subprocess.run(["ss", "-tnp"], capture_output=True, text=True).stdout
            mine = [s for s in out.splitlines() if f":{port} " in s and f"pid={os.getpid()}," in s]
            return len(mine)

    print("connections to the API server after 128 concurrent scales:", asyncio.run(burst()))
