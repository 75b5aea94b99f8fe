"""kubectl's habits on the command line: global flags on either side of the verb, one meaning of
``--dry-run``, durations for every time, ``python -m kubescale``, completion, JSON logs."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys

import pytest

from kubescale import cli


def parse(*argv: str) -> argparse.Namespace:
    return cli._parser().parse_args(list(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["-n", "dev", "get", "deploy/web"],
        ["get", "deploy/web", "-n", "dev"],
        ["--namespace=dev", "-o", "json", "get", "deploy/web"],
    ],
)
def test_global_flags_before_or_after_the_verb(argv: list[str]) -> None:
    args = parse(*argv)
    assert args.namespace == "dev"
    assert args.target == "deploy/web"


def test_a_flag_after_the_verb_wins_over_one_before() -> None:
    args = parse("-n", "a", "--context", "x", "get", "deploy/web", "-n", "b")
    assert (args.namespace, args.context) == ("b", "x")
    assert parse("get", "deploy/web").output == "table"
    assert parse("-o", "yaml", "get", "deploy/web").output == "yaml"


@pytest.mark.parametrize(
    ("argv", "mode"),
    [
        (["scale", "deploy/web", "3"], "none"),
        (["scale", "deploy/web", "3", "--dry-run"], "client"),
        (["scale", "deploy/web", "3", "--dry-run=server"], "server"),
        (["scale", "deploy/web", "3", "--dry-run", "client"], "client"),
        (["release", "--dry-run"], "client"),
        (["run", "--dry-run=client"], "client"),
        (["run", "--dry-run=none"], "none"),
    ],
)
def test_dry_run_takes_kubectls_values(argv: list[str], mode: str) -> None:
    assert parse(*argv).dry_run == mode


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scale", "deploy/web", "3", "--dry-run=maybe"], "invalid choice: 'maybe'"),
        (["run", "--dry-run=server"], "--dry-run=server is not supported by run"),
        (["release", "--dry-run=server"], "--dry-run=server is not supported by release"),
        # The fleet forms of scale (tests/unit/test_cli_fleet.py has the valid ones).
        (["scale", "deploy", "--replicas", "0"], "'deploy' is a type: add -l SELECTOR or --all"),
        (
            ["scale", "deploy/a", "-l", "x=y", "--replicas", "1"],
            "-l, --all and -A choose objects of one TYPE",
        ),
        (["scale", "deploy", "-l", "x=y", "--all", "--replicas", "1"], "either -l/--selector or --all"),
        (["scale", "deploy", "--all", "-A", "-n", "x", "--replicas", "1"], "either -n/--namespace or -A"),
        (["scale", "deploy/a", "deploy/b", "--at-least", "--replicas", "1"], "--at-least applies to one"),
        (["scale", "deploy/a", "deploy/b"], "give the count with --replicas N"),
    ],
)
def test_a_usage_error_exits_2_naming_the_problem(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("text", "seconds"), [("2m", 120.0), ("90s", 90.0), ("120", 120.0), ("1.5", 1.5)])
def test_wait_timeout_is_a_duration(text: str, seconds: float) -> None:
    assert parse("wait", "deploy/web", "--timeout", text).timeout == seconds


def test_a_bad_wait_timeout_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["wait", "deploy/web", "--timeout", "soon"])
    assert e.value.code == 2
    assert "--timeout" in capsys.readouterr().err


def test_python_dash_m_kubescale() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kubescale", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("kubescale ")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_name_every_verb_and_flag(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["completion", shell]) == 0
    script = capsys.readouterr().out
    flags = ["--namespace", "--dry-run", "--output"]
    if shell == "fish":
        flags = [f"-l {f[2:]}" for f in flags]
    for word in ["scale", "scale-to-zero", "replay", "release", *flags]:
        assert word in script, word
    assert "kubescale" in script


@pytest.mark.skipif(not __import__("shutil").which("bash"), reason="bash is not installed")
def test_bash_completion_completes_a_verb_and_a_flag(tmp_path: object) -> None:
    script = cli.completion_script("bash")
    cases = [
        "kubescale sca",
        "kubescale get --na",
        "kubescale scale x 1 --dry-run = ''",  # bash splits `--dry-run=` at the `=` (COMP_WORDBREAKS)
        "kubescale -n dev get -o ''",
    ]
    probe = script + "".join(
        f'\nCOMP_WORDS=({words}); COMP_CWORD={len(words.split()) - 1}; _kubescale; echo "${{COMPREPLY[*]}}"'
        for words in cases
    )
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["scale", "scale-to-zero", "scale-from-zero"]
    assert lines[1].split() == ["--namespace"]
    assert sorted(lines[2].split()) == ["client", "none", "server"]
    assert sorted(lines[3].split()) == ["json", "table", "yaml"]


def test_run_logs_json_lines() -> None:
    assert parse("run", "--log-format", "json").log_format == "json"
    assert parse("run").log_format == "text"
    record = logging.LogRecord("kubescale.loop", logging.WARNING, __file__, 1, "pass took %ss", (3,), None)
    line = json.loads(cli.JsonFormatter().format(record))
    assert line["level"] == "warning"
    assert line["logger"] == "kubescale.loop"
    assert line["msg"] == "pass took 3s"
    assert line["ts"].endswith("Z")
