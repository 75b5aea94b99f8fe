"""A smoke test of an installed kubescale wheel, with no cluster: what every platform's release
job runs on its own runner (and `make test` here, against the manylinux2014 wheel).

It imports the package, checks the version, builds a blocking and an asyncio handler from a
kubeconfig (nothing is sent until a call needs the server), and uses the offline parts of the
API: the CRD, typed errors for bad input, and the command line's --version.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    import kubescale
    import kubescale.asyncio

    assert kubescale.__version__, "no version"
    crd = json.loads(kubescale.elastiservice_crd())
    assert crd["spec"]["names"]["kind"] == "ElastiService", crd["spec"]["names"]
    with tempfile.TemporaryDirectory() as d:
        kubeconfig = Path(d) / "config"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
                    "users": [{"name": "u", "user": {"token": "smoke-test-token"}}],
                    "contexts": [
                        {"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "ns"}}
                    ],
                    "current-context": "ctx",
                }
            )
        )
        with kubescale.ScaleHandler(kubeconfig=str(kubeconfig)) as h:
            assert h.default_namespace == "ns", h.default_namespace
            assert "smoke-test-token" not in repr(h), repr(h)
            try:
                h.scale("not a/valid/target", 1)
            except kubescale.InvalidTargetError as e:
                assert "not a/valid/target" in str(e), e
            else:
                raise AssertionError("a bad target was accepted")
            try:
                h.scale("deploy/web", -1)
            except kubescale.InvalidValueError:
                pass
            else:
                raise AssertionError("a negative count was accepted")

        async def use_async() -> None:
            async with kubescale.asyncio.ScaleHandler(kubeconfig=str(kubeconfig)) as ah:
                try:
                    await ah.scale("deploy/web", -1)
                except kubescale.InvalidValueError:
                    return
                raise AssertionError("a negative count was accepted")

        asyncio.run(use_async())
    cli = subprocess.run([sys.executable, "-m", "kubescale.cli", "--version"], capture_output=True, text=True)
    assert cli.returncode == 0 and kubescale.__version__ in cli.stdout, cli
    print(f"kubescale {kubescale.__version__} on {sys.platform} {sys.version.split()[0]}: ok")


if __name__ == "__main__":
    main()
