"""Threads that call kubescale do not each cost the process huge pages of memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

THP_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")

pytestmark = pytest.mark.skipif(
    not THP_MODE.exists() or "[madvise]" not in THP_MODE.read_text(),
    reason="transparent huge pages are given on request only where the kernel's mode is 'madvise'",
)

# Sixty-four threads each call into the native module (which allocates on the calling thread),
# as a pool of threads calling a blocking handler does; the process's huge pages and RSS are
# read before and after.
PROGRAM = """
import json, threading, kubescale

def status(field, path="/proc/self/status"):
    for line in open(path):
        if line.startswith(field + ":"):
            return int(line.split()[1])

kubescale.elastiservice_crd()
before = status("AnonHugePages", "/proc/self/smaps_rollup"), status("VmRSS")
start = threading.Barrier(64)

def work():
    start.wait()
    for _ in range(3):
        kubescale.elastiservice_crd()

threads = [threading.Thread(target=work) for _ in range(64)]
for t in threads:
    t.start()
for t in threads:
    t.join()
after = status("AnonHugePages", "/proc/self/smaps_rollup"), status("VmRSS")
print(json.dumps({"huge_kb": [before[0], after[0]], "rss_kb": [before[1], after[1]]}))
"""


def test_calling_threads_get_no_huge_pages() -> None:
    argv = [sys.executable, "-c", PROGRAM]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    m = json.loads(out.stdout)
    (huge_before, huge_after), (rss_before, rss_after) = m["huge_kb"], m["rss_kb"]
    # The allocator asked for none: each thread's first allocations would otherwise fault in
    # 2 MiB pages (the blocking handler at 128 threads: 111 MB peak RSS with them, 48 without).
    assert huge_after == huge_before == 0, (
        f"huge pages {huge_before} -> {huge_after} kB, RSS {rss_before} -> {rss_after} kB"
    )
