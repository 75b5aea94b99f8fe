"""benches/RESULTS.md's parts: run.py writes the file's head (the client tables); server_cost.py,
loop.py, shards.py and takeover.py each own one section between markers, which the others keep as it is.

Also the control plane's CPU time, which run.py and server_cost.py both measure."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PATH = Path(__file__).resolve().parent / "RESULTS.md"
# The sections, in the order they follow run.py's head.
SECTIONS = ("server", "loop", "shards", "takeover", "fleet", "recommend")


def markers(name: str) -> tuple[str, str]:
    """The lines that open and close section `name`."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def kept_sections() -> str:
    """The sections RESULTS.md has now, in order, for run.py to write after its head."""
    old = PATH.read_text() if PATH.exists() else ""
    kept = ""
    for name in SECTIONS:
        start, end = markers(name)
        if start in old and end in old:
            kept += "\n" + old[old.index(start) : old.index(end) + len(end)] + "\n"
    return kept


def write_section(name: str, text: str) -> None:
    """Puts `text` (which opens and closes with section `name`'s markers) in RESULTS.md: in place
    of the section's old text, else before the first section that follows it, else at the end."""
    old = PATH.read_text() if PATH.exists() else ""
    start, end = markers(name)
    if start in old and end in old:
        new = old[: old.index(start)] + text + old[old.index(end) + len(end) + 1 :]
    else:
        later = [markers(n)[0] for n in SECTIONS[SECTIONS.index(name) + 1 :] if markers(n)[0] in old]
        if later:
            at = old.index(later[0])
            new = old[:at] + text + "\n" + old[at:]
        else:
            new = old.rstrip("\n") + "\n\n" + text
    PATH.write_text(new)


def server_cpu(cluster: Any) -> float:
    """CPU seconds used so far by the local API server and etcd (`cluster.pids`)."""
    total = 0.0
    for pid in cluster.pids.values():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total
