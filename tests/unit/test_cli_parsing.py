"""The command line's arguments, usage errors and output formats, without a cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubescale import cli

from helpers import write_kubeconfig


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    import kubescale

    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"kubescale {kubescale.__version__}"


def test_crd_prints_the_elastiservice_crd_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "crd")
    assert code == 0
    crd = json.loads(out)
    assert crd["metadata"]["name"] == "elastiservices.elasti.truefoundry.com"
    assert crd["spec"]["names"]["kind"] == "ElastiService"


@pytest.mark.parametrize(
    "argv",
    [
        ["scale", "deploy/web"],  # no count
        ["scale", "deploy/web", "three"],  # not a number
        ["get"],  # no target
        ["frobnicate", "deploy/web"],  # no such verb
        ["get", "deploy/web", "-o", "xml"],  # no such format
    ],
)
def test_usage_errors_exit_2_with_a_message(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    assert "usage: kubescale" in capsys.readouterr().err


def test_a_bad_duration_is_a_usage_error_naming_the_option() -> None:
    with pytest.raises(cli.UsageError, match=r"--cooldown: .*soon"):
        cli._seconds("--cooldown", "soon")
    assert cli._seconds("--cooldown", "1m30s") == 90.0


def test_a_bad_enabled_period_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The option is checked before any request: the kubeconfig points nowhere.
    config = write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:1")
    code, _, err = run(
        capsys, "replay", "web", "--kubeconfig", str(config), "--enabled-period", "0 9 * * 1-5"
    )
    assert code == 2
    assert "--enabled-period: use 'CRON;DURATION'" in err


def test_table_pads_columns_and_says_when_empty() -> None:
    rows: list[dict[str, Any]] = [
        {"name": "web", "replicas": 3, "tags": ["a", "b"]},
        {"name": "api-long", "replicas": None, "tags": []},
    ]
    assert cli._table(rows).splitlines() == [
        "NAME       REPLICAS   TAGS",
        "web        3          a, b",
        "api-long",
    ]
    assert cli._table([]) == "No resources found."


def test_yaml_output_is_valid_yaml() -> None:
    import yaml

    text = cli._yaml({"name": "web", "replicas": 3, "note": "ünïcode"})
    assert yaml.safe_load(text) == {"name": "web", "replicas": 3, "note": "ünïcode"}


def test_testing_exec_keeps_the_commands_own_double_dash() -> None:
    from kubescale.testing.__main__ import command_of

    assert command_of(["--", "cargo", "test", "--", "--include-ignored"]) == [
        "cargo",
        "test",
        "--",
        "--include-ignored",
    ]
    assert command_of(["pytest", "-q"]) == ["pytest", "-q"]


def test_crd_prints_the_manifest() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kubescale.cli", "crd"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0
    assert json.loads(out.stdout)["kind"] == "CustomResourceDefinition"


def test_wake_up_is_a_duration_or_measured_and_the_cold_start_timeout_a_duration() -> None:
    assert cli._wake_up("20s") == 20.0 and cli._wake_up("measured") == "measured"
    assert cli._wake_up(None) is None
    with pytest.raises(cli.UsageError, match=r"--wake-up: .*soon"):
        cli._wake_up("soon")
    args = cli._parser().parse_args(["run", "--cold-start-timeout", "10m"])
    assert args.cold_start_timeout == 600.0
    assert cli._parser().parse_args(["run"]).cold_start_timeout is None
