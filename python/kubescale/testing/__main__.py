"""``python -m kubescale.testing up`` / ``exec -- CMD...``: a local cluster for humans and CI.

``up`` starts a cluster, prints the ``export KUBECONFIG=...`` line and stays up until Ctrl-C.
``exec -- CMD`` starts a cluster, runs CMD with ``KUBECONFIG`` and ``KUBESCALE_TEST_KUBECONFIG``
pointing at it, stops the cluster and exits with CMD's status.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys

from kubescale.testing.cluster import ControlPlaneError, LocalCluster


def command_of(words: list[str]) -> list[str]:
    """The command after ``exec``: without the ``--`` that separates it, with its own ``--``
    (``exec -- cargo test -- --include-ignored``)."""
    return words[1:] if words[:1] == ["--"] else words


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubescale.testing", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start a cluster and keep it up until Ctrl-C")
    ex = sub.add_parser("exec", help="run a command against a fresh cluster")
    ex.add_argument("cmd", nargs=argparse.REMAINDER, help="the command (after --)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Ctrl-C and SIGTERM both end in a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with LocalCluster() as cluster:
            if args.command == "up":
                print(f"export KUBECONFIG={cluster.kubeconfig_path}", flush=True)
                print("# local cluster is up; Ctrl-C stops it", file=sys.stderr, flush=True)
                try:
                    signal.pause()
                except KeyboardInterrupt:
                    pass
                return 0
            cmd = command_of(args.cmd)
            if not cmd:
                parser.error("exec needs a command after --")
            env = {**os.environ, **cluster.env()}
            return subprocess.call(cmd, env=env)
    except ControlPlaneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
