"""A scaler written in Python driving the scale-to-zero loop.

``WorkingHoursScaler`` lets a target go to zero outside working hours unless a backlog file
says there is work. Register it, then run passes over the ElastiServices of a namespace:

    python examples/python_scaler.py -n my-namespace --passes 3

An ElastiService that uses it::

    spec:
      service: web
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
      triggers:
        - type: working-hours
          metadata: {start: "8", end: "18", backlog: /tmp/backlog}
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path
from typing import Any

import kubescale


class WorkingHoursScaler:
    """Zero is allowed outside ``start``..``end`` (UTC hours) when the backlog file is empty."""

    def __init__(self, metadata: dict[str, Any], cooldown: datetime.timedelta) -> None:
        self.start = int(metadata.get("start", "8"))
        self.end = int(metadata.get("end", "18"))
        self.backlog = Path(metadata["backlog"]) if "backlog" in metadata else None

    def _busy(self) -> bool:
        hour = datetime.datetime.now(datetime.timezone.utc).hour
        in_hours = self.start <= hour < self.end
        has_backlog = (
            self.backlog is not None and self.backlog.exists() and self.backlog.read_text().strip() != ""
        )
        return in_hours or has_backlog

    def is_healthy(self) -> bool:
        return True

    def should_scale_to_zero(self) -> bool:
        return not self._busy()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--namespace", required=True)
    parser.add_argument("--passes", type=int, default=0, help="passes to run (0: run until Ctrl-C)")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    with kubescale.ScaleHandler(args.namespace) as handler:
        handler.install_crds()
        handler.register_scaler("working-hours", WorkingHoursScaler)
        if args.passes == 0:
            handler.run(args.interval)
            return
        for i in range(args.passes):
            for d in handler.check_and_scale():
                error = f" ERROR {d.error}" if d.error else ""
                print(f"pass {i}: {d.service}: {d.direction} ({d.reason}){error}")
            time.sleep(args.interval)


if __name__ == "__main__":
    main()
