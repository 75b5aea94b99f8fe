"""Quickstart: connect, scale a workload, wait, go to zero and back, read the events.

    python examples/quickstart.py deployment/web -n my-namespace

Uses your kubeconfig (``$KUBECONFIG`` or ``~/.kube/config``) or the in-cluster service account.
"""

from __future__ import annotations

import argparse
import logging

import kubescale


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", help="TYPE/NAME, e.g. deployment/web")
    parser.add_argument("-n", "--namespace", default=None)
    parser.add_argument("--replicas", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    with kubescale.ScaleHandler(args.namespace) as handler:
        print(handler)
        resource = handler.resolve(args.target.split("/")[0])
        print(f"{args.target} is a {resource.kind} ({resource.api_version}), scalable: {resource.scalable}")

        before = handler.get_scale(args.target)
        print(f"desired {before.spec_replicas}, observed {before.status_replicas}")

        result = handler.scale(args.target, args.replicas)
        print(f"scale: {result.previous} -> {result.replicas} ({result.reason})")
        scale = handler.wait_for_replicas(args.target, ready=False, timeout=120)
        print(f"{scale.status_replicas} replicas exist")

        down = handler.scale_to_zero(args.target)
        print(f"scale_to_zero: {down.previous} -> {down.replicas}")
        up = handler.scale_from_zero(args.target)
        print(f"scale_from_zero: {up.previous} -> {up.replicas} (restored)")

        for event in handler.events(args.target):
            print(f"event: {event.type} {event.reason} x{event.count}: {event.note}")


if __name__ == "__main__":
    main()
