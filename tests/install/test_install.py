"""The release wheel as users install it: tagged and linked for manylinux2014 (glibc 2.17), small,
and installed into an older distribution's own Python (Debian 11: glibc 2.31, CPython 3.9) with
no Rust toolchain, from where it scales a Deployment of the local cluster, sync and asyncio."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kubescale.testing import ClusterAPI

from helpers import DEPLOY, ROOT, spec_replicas

CACHE = Path(os.environ.get("KUBESCALE_CACHE") or Path.home() / ".cache" / "kubescale")
OLD_ROOT = CACHE / "roots" / "debian-bullseye"
MAX_WHEEL_BYTES = 5 * 1024 * 1024


def the_wheel() -> Path:
    wheels = sorted((ROOT / "dist").glob("kubescale-*.whl"))
    assert len(wheels) == 1, f"make wheel leaves one wheel in dist/: {wheels}"
    return wheels[0]


def test_the_wheel_is_manylinux2014_abi3_and_small() -> None:
    wheel = the_wheel()
    tags = wheel.name.removesuffix(".whl").split("-")[2:]
    assert tags[:2] == ["cp39", "abi3"], wheel.name
    platforms = tags[2].split(".")
    assert "manylinux_2_17_x86_64" in platforms or "manylinux2014_x86_64" in platforms, wheel.name
    newer = [p for p in platforms if (m := re.match(r"manylinux_2_(\d+)_", p)) and int(m.group(1)) > 17]
    assert not newer, f"tagged for a newer glibc than 2.17: {newer}"
    shown = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert 'consistent with the following platform tag: "manylinux_2_17_x86_64"' in text, shown.stdout
    glibc = [tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+\.\d+(?:\.\d+)?)", text)]
    assert glibc and max(glibc) <= (2, 17), f"symbol versions newer than glibc 2.17: {max(glibc)}"
    size = wheel.stat().st_size
    print(f"{wheel.name}: {size / 1e6:.2f} MB")
    assert size <= MAX_WHEEL_BYTES, f"the wheel is {size / 1e6:.2f} MB (at most {MAX_WHEEL_BYTES / 1e6:.2f})"


USE = """
import asyncio, platform, sys
import kubescale, kubescale.asyncio

kubeconfig, ns = sys.argv[1:3]
with kubescale.ScaleHandler(ns, kubeconfig=kubeconfig) as h:
    print("sync", h.scale("deploy/web", 2).replicas)

async def main():
    async with kubescale.asyncio.ScaleHandler(ns, kubeconfig=kubeconfig) as ah:
        print("asyncio", (await ah.scale("deploy/web", 3)).replicas)

asyncio.run(main())
print("python", platform.python_version(), "libc", "-".join(platform.libc_ver()))
"""


def test_the_wheel_installs_and_scales_on_debian_11(kube_cluster: ClusterAPI, namespace: str) -> None:
    if not (OLD_ROOT / ".complete").exists():
        pytest.fail(f"no Debian 11 root at {OLD_ROOT}: run scripts/install-old-distro.sh (make old-distro)")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.fail("chroot needs root and util-linux's unshare")
    kube_cluster.create_deployment(namespace, "web", 1)
    work = OLD_ROOT / "tmp" / f"kubescale-{namespace}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        wheel = the_wheel()
        shutil.copy(wheel, work / wheel.name)
        # The kubeconfig with its CA inline: the chroot sees none of this machine's files.
        config = json.loads(Path(kube_cluster.kubeconfig_path).read_text())
        for c in config["clusters"]:
            ca = c["cluster"].pop("certificate-authority", None)
            if ca:
                c["cluster"]["certificate-authority-data"] = base64.b64encode(Path(ca).read_bytes()).decode()
        (work / "kubeconfig").write_text(json.dumps(config))
        (work / "use.py").write_text(USE)
        inside = f"/tmp/{work.name}"
        steps = " && ".join(
            [
                f"python3 -m venv {inside}/venv",
                f"{inside}/venv/bin/pip install -q --no-index --no-deps {inside}/{wheel.name}",
                f"{inside}/venv/bin/python {inside}/use.py {inside}/kubeconfig {namespace}",
            ]
        )
        mount = (
            f'mount --bind /dev "{OLD_ROOT}/dev" && mount -t proc proc "{OLD_ROOT}/proc" && '
            f'exec chroot "{OLD_ROOT}" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root /bin/sh -c "{steps}"'
        )
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.split("\n")
        print(done.stdout)
        assert "sync 2" in lines and "asyncio 3" in lines, done.stdout
        assert any(line.startswith("python 3.9.") and "glibc-2.31" in line for line in lines), done.stdout
        assert spec_replicas(kube_cluster, namespace, DEPLOY) == 3
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_smoke_test_of_the_release_workflow_passes_here() -> None:
    """scripts/smoke_test.py is what every platform's release job runs on its own runner."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "smoke_test.py")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and ": ok" in done.stdout, done.stdout + done.stderr
