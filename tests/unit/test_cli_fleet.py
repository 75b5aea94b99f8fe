"""The fleet forms of the command line (`scale` of many targets, `sleep`, `wake`), parsed and
checked without a cluster (tests/cli/test_cli.py runs them against one)."""

from __future__ import annotations

import argparse

import pytest

from kubescale import cli


def fleet_args(*argv: str) -> argparse.Namespace:
    args = cli._parser().parse_args(list(argv))
    args.targets, args.replicas = cli._scale_args(args)
    args.fleet = cli._is_fleet(args, args.targets)
    return args


@pytest.mark.parametrize(
    ("argv", "targets", "replicas", "fleet"),
    [
        (["scale", "deploy/web", "3"], ["deploy/web"], 3, False),
        (["scale", "deploy/web", "--replicas", "3", "--current-replicas", "1"], ["deploy/web"], 3, False),
        (
            ["scale", "deploy/a", "deploy/b", "--replicas", "2", "--current-replicas", "1"],
            ["deploy/a", "deploy/b"],
            2,
            True,
        ),
        (["scale", "deploy", "-l", "team=search", "--replicas", "0", "-A"], ["deploy"], 0, True),
        (["scale", "deploy", "--all", "--replicas", "0", "-n", "dev"], ["deploy"], 0, True),
        (
            ["-n", "dev", "scale", "statefulsets.apps", "--selector", "tier=db", "--replicas=1"],
            ["statefulsets.apps"],
            1,
            True,
        ),
    ],
)
def test_scale_takes_kubectls_forms(argv: list[str], targets: list[str], replicas: int, fleet: bool) -> None:
    args = fleet_args(*argv)
    assert (args.targets, args.replicas, args.fleet) == (targets, replicas, fleet)


@pytest.mark.parametrize("verb", ["sleep", "wake"])
def test_sleep_and_wake_take_a_selector_all_namespaces_types_and_a_dry_run(verb: str) -> None:
    args = cli._parser().parse_args([verb, "-n", "dev", "-l", "team=a", "--types", "deploy,sts", "--dry-run"])
    assert (args.namespace, args.selector, args.types, args.dry_run) == (
        "dev",
        "team=a",
        "deploy,sts",
        "client",
    )
    args = cli._parser().parse_args([verb, "-A", "-o", "json"])
    assert (args.all_namespaces, args.output, args.types) == (
        True,
        "json",
        "deployments.apps,statefulsets.apps",
    )
