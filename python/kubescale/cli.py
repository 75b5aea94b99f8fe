"""The ``kubescale`` command line.

Exit codes: 0 success, 1 API or cluster error, 2 usage error. Errors are one readable line.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Optional, Union

import kubescale
from kubescale import _completion
from kubescale._native import parse_duration
from kubescale.errors import ApiError, InvalidValueError, KubeScaleError

__all__ = ["JsonFormatter", "completion_script", "main"]


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


def _as_dict(obj: Any) -> dict[str, Any]:
    """Every field of a returned value (``to_dict()``), for JSON, YAML and the tables."""
    return dict(obj) if isinstance(obj, dict) else dict(obj.to_dict())


def _yaml(data: Any) -> str:
    try:
        import yaml
    except ImportError:
        raise UsageError("-o yaml needs PyYAML: pip install 'kubescale[yaml]'") from None
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)).rstrip()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No resources found."
    cols = list(rows[0])
    cells = [[c.upper() for c in cols]] + [[_cell(r[c]) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return "\n".join("   ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells)


def _emit(value: Any, output: str) -> None:
    rows = [_as_dict(v) for v in value] if isinstance(value, list) else [_as_dict(value)]
    data: Any = rows if isinstance(value, list) else rows[0]
    if output == "json":
        print(json.dumps(data, indent=2))
    elif output == "yaml":
        print(_yaml(data))
    else:
        print(_table(rows))


DRY_RUN = ("none", "client", "server")


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every verb takes, as kubectl has them: before or after the verb. After the
    verb they default to nothing (``SUPPRESS``), so that a value given before it is kept."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("-n", "--namespace", default=default(None), help="namespace (default: the context's)")
    parser.add_argument("--context", default=default(None), help="kubeconfig context")
    parser.add_argument(
        "--kubeconfig",
        default=default(None),
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)",
    )
    parser.add_argument("-o", "--output", choices=("table", "json", "yaml"), default=default("table"))
    parser.add_argument(
        "--no-events",
        action="store_true",
        default=default(False),
        help="record no Event per change (one API write less each)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=default(0), help="log more (-v info, -vv debug)"
    )


def _dry_run(parser: argparse.ArgumentParser, help: str) -> None:
    """kubectl's ``--dry-run[=none|client|server]``; alone it means ``client``."""
    parser.add_argument(
        "--dry-run",
        nargs="?",
        const="client",
        default="none",
        choices=DRY_RUN,
        metavar="none|client|server",
        help=help,
    )


def _duration(text: str) -> float:
    """A time option's value: a Go duration (``90s``, ``2m``) or plain seconds (``120``)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_duration(text)
    except InvalidValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _common(common, suppress=True)

    p = argparse.ArgumentParser(prog="kubescale", description="Scale Kubernetes workloads.")
    p.add_argument("--version", action="version", version=f"kubescale {kubescale.__version__}")
    _common(p, suppress=False)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("get", parents=[common], help="show a target's scale")
    g.add_argument("target", help="TYPE[.VERSION][.GROUP]/NAME, e.g. deployment/web")

    s = sub.add_parser(
        "scale",
        parents=[common],
        help="set the replicas of targets: TYPE/NAME..., or TYPE with -l or --all",
        description="kubescale scale deploy/web 3; kubescale scale deploy/a deploy/b --replicas 2; "
        "kubescale scale deploy -l team=search --replicas 0 [-A]; kubescale scale deploy --all --replicas 0",
    )
    s.add_argument("targets", nargs="+", metavar="TARGET", help="TYPE/NAME references, or one TYPE")
    s.add_argument("--replicas", type=int, help="the desired count (or give it after a single TYPE/NAME)")
    s.add_argument("-l", "--selector", help="label selector choosing objects of TYPE (as kubectl's -l)")
    s.add_argument("--all", action="store_true", help="every object of TYPE in the namespace")
    s.add_argument("-A", "--all-namespaces", action="store_true", help="in every namespace (with TYPE)")
    s.add_argument(
        "--current-replicas", type=int, help="refuse each target whose count is not this one (precondition)"
    )
    s.add_argument("--at-least", action="store_true", help="keep a larger current count (one target)")
    _dry_run(
        s, "client: show the change without sending it; server: let the server validate it, write nothing"
    )

    for verb, what in (
        ("sleep", "remember each count and scale to 0"),
        ("wake", "restore the remembered counts"),
    ):
        sl = sub.add_parser(verb, parents=[common], help=f"{what} (Deployments and StatefulSets)")
        sl.add_argument("-l", "--selector", help="label selector choosing the targets")
        sl.add_argument("-A", "--all-namespaces", action="store_true", help="in every namespace")
        sl.add_argument(
            "--types", default="deployments.apps,statefulsets.apps", help="comma-separated types to act on"
        )
        _dry_run(sl, "show what would be done; write nothing (client and server alike)")

    z = sub.add_parser("scale-to-zero", parents=[common], help="remember the count and scale to 0")
    z.add_argument("target")

    f = sub.add_parser("scale-from-zero", parents=[common], help="scale back to the remembered count")
    f.add_argument("target")
    f.add_argument("--min-replicas", type=int, default=1)
    f.add_argument("--no-restore", action="store_true", help="scale to --min-replicas only")

    w = sub.add_parser("wait", parents=[common], help="wait until the replicas are ready")
    w.add_argument("target")
    w.add_argument("--replicas", type=int, help="the count to wait for (default: the desired count)")
    w.add_argument(
        "--timeout", type=_duration, default=300.0, help="a duration, e.g. 2m, or seconds (default 5m)"
    )
    w.add_argument("--not-ready", action="store_true", help="count existing replicas, ready or not")

    e = sub.add_parser("events", parents=[common], help="list the events regarding a target")
    e.add_argument("target")

    sub.add_parser("crd", help="print the ElastiService CRD (JSON, valid YAML)")

    r = sub.add_parser("run", parents=[common], help="run the scale-to-zero loop over ElastiServices")
    r.add_argument("--polling-interval", help="Go duration between passes (default $POLLING_INTERVAL or 30s)")
    r.add_argument("--leader-election", action="store_true", help="act only while holding a Lease")
    r.add_argument("--lease-name", help="the Lease's name (default kubescale-scale-to-zero)")
    r.add_argument(
        "--metrics-bind-address",
        metavar="HOST:PORT",
        help="serve /metrics, /healthz and /readyz there (e.g. 0.0.0.0:8080; off by default)",
    )
    _dry_run(r, "client: decide every pass and write nothing; log what each pass would do")
    r.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text lines, or one JSON object per line (for log collectors)",
    )
    r.add_argument(
        "--kube-api-qps",
        type=float,
        help="requests per second to the API server, on average (default 50; a steady state sends none)",
    )
    r.add_argument("--kube-api-burst", type=int, help="requests allowed at once above the QPS (default 100)")
    r.add_argument(
        "--shards",
        type=int,
        help="split the services into N shards, each with its own Lease: every replica works (default 1)",
    )
    r.add_argument(
        "--cold-start-timeout",
        type=_duration,
        help="how long a wake-up is measured before it counts as a timeout, e.g. 10m (default 5m)",
    )
    r.add_argument("--install-crds", action="store_true", help="apply the ElastiService CRD first")

    rp = sub.add_parser(
        "replay",
        parents=[common],
        help="what the scale-to-zero loop would have done for an ElastiService over its metric history",
    )
    rp.add_argument("name", help="the ElastiService")
    rp.add_argument("--since", default="24h", help="start this long ago (Go duration) or at an RFC 3339 time")
    rp.add_argument("--until", help="end this long ago or at an RFC 3339 time (default: now)")
    rp.add_argument("--step", default="1m", help="time between steps (default 1m)")
    rp.add_argument("--cooldown", help="try this cooldown instead of the spec's (e.g. 5m)")
    rp.add_argument("--min-replicas", type=int, help="try this minTargetReplicas")
    rp.add_argument("--threshold", help="try this threshold in the trigger's metadata")
    rp.add_argument("--query", help="try this query in the trigger's metadata")
    rp.add_argument(
        "--trigger", type=int, default=0, help="the trigger --threshold/--query change (default 0)"
    )
    rp.add_argument(
        "--enabled-period",
        metavar="'CRON;DURATION'",
        help="try this enabledPeriod, e.g. '0 9 * * 1-5;10h', or 'always' for none",
    )
    rp.add_argument(
        "--recommend", action="store_true", help="recommend a cooldown: the history replayed per candidate"
    )
    rp.add_argument(
        "--max-cold-starts-per-day", type=float, help="with --recommend: the budget of cold starts"
    )
    rp.add_argument(
        "--max-wait", help="with --recommend: the longest a request may wait at a cold start (e.g. 1m)"
    )
    rp.add_argument(
        "--candidates", help="with --recommend: comma-separated cooldowns to try (e.g. 5m,10m,30m)"
    )
    rp.add_argument(
        "--wake-up",
        help="how long the target takes to serve from zero (e.g. 20s), or 'measured' (the loop's "
        "kubescale_cold_start_seconds in the service's Prometheus): what a cold start costs",
    )

    rel = sub.add_parser(
        "release",
        parents=[common],
        help="restore every target held at zero, remove kubescale's finalizers (before an uninstall)",
    )
    rel.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="every namespace (default: -n, else the context's)",
    )
    _dry_run(rel, "client: write nothing; show what would be done")

    c = sub.add_parser("completion", help="print a shell completion script (bash, zsh, fish)")
    c.add_argument("shell", choices=("bash", "zsh", "fish"))
    return p


def _seconds(option: str, text: str) -> float:
    try:
        return parse_duration(text)
    except InvalidValueError as e:
        raise UsageError(f"{option}: {e}") from None


def _history(args: argparse.Namespace) -> dict[str, Any]:
    """What ``replay`` and ``--recommend`` both pass: the range, the namespace, the wake-up."""
    return {
        "namespace": args.namespace,
        "start": args.since,
        "end": args.until,
        "step": args.step,
        "wake_up": _wake_up(args.wake_up),
    }


def _wake_up(text: Optional[str]) -> Union[float, str, None]:
    """``--wake-up``: a duration, or ``measured`` (read from the loop's histogram)."""
    if text is None or text == "measured":
        return text
    return _seconds("--wake-up", text)


def _wait(handler: kubescale.ScaleHandler, args: argparse.Namespace) -> kubescale.Scale:
    started = time.monotonic()
    tty = sys.stderr.isatty()

    def progress(seen: int, wanted: int) -> None:
        elapsed = time.monotonic() - started
        if tty:
            print(
                f"\r{args.target}: {seen}/{wanted} ready, {elapsed:.0f}s", end="", file=sys.stderr, flush=True
            )
        else:
            print(f"{args.target}: {seen}/{wanted} ready after {elapsed:.1f}s", file=sys.stderr, flush=True)

    try:
        return handler.wait_for_replicas(
            args.target,
            args.replicas,
            ready=not args.not_ready,
            timeout=args.timeout,
            namespace=args.namespace,
            on_progress=progress,
        )
    finally:
        if tty:
            print(file=sys.stderr)


def _replay(handler: kubescale.ScaleHandler, args: argparse.Namespace) -> kubescale.Replay:
    overrides: dict[str, Any] = {}
    if args.cooldown is not None:
        overrides["cooldown"] = f"{_seconds('--cooldown', args.cooldown):g}s"
    if args.min_replicas is not None:
        overrides["min_target_replicas"] = args.min_replicas
    if args.threshold is not None:
        overrides["threshold"] = args.threshold
    if args.query is not None:
        overrides["query"] = args.query
    if args.enabled_period == "always":
        overrides["enabled_period"] = "always"
    elif args.enabled_period is not None:
        schedule, sep, duration = args.enabled_period.partition(";")
        if not sep:
            raise UsageError("--enabled-period: use 'CRON;DURATION', e.g. '0 9 * * 1-5;10h', or 'always'")
        overrides["enabled_period"] = {"schedule": schedule.strip(), "duration": duration.strip()}
    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if tty:
            width = 30
            bar = "#" * (done * width // max(total, 1))
            print(
                f"\r{args.name}: [{bar:<{width}}] {done}/{total} steps", end="", file=sys.stderr, flush=True
            )

    try:
        return handler.replay(
            args.name, trigger=args.trigger, on_progress=progress, **_history(args), **overrides
        )
    finally:
        if tty:
            print(file=sys.stderr)


def _recommend(handler: kubescale.ScaleHandler, args: argparse.Namespace) -> kubescale.CooldownRecommendation:
    """``replay NAME --recommend``: the cooldown for the budget given, from the history."""
    if args.cooldown is not None:
        raise UsageError("--recommend tries its own cooldowns: use --candidates, not --cooldown")
    candidates = None
    if args.candidates:
        candidates = [_seconds("--candidates", c.strip()) for c in args.candidates.split(",") if c.strip()]
    return handler.recommend_cooldown(
        args.name,
        max_cold_starts_per_day=args.max_cold_starts_per_day,
        max_wait=_seconds("--max-wait", args.max_wait) if args.max_wait else None,
        candidates=candidates,
        **_history(args),
    )


def _print_recommendation(r: kubescale.CooldownRecommendation) -> None:
    rows = [
        {
            "cooldown": _short(p.cooldown.total_seconds()),
            "at zero": f"{100 * p.fraction_at_zero:.0f}%",
            "replica-hours saved": f"{p.replica_hours_saved:.1f}",
            "cold starts a day": f"{p.cold_starts_per_day:.1f}",
            "worst wait": _short(p.worst_wait.total_seconds()),
        }
        for p in r.points
    ]
    print(_table(rows))
    chosen = _short(r.cooldown.total_seconds()) if r.cooldown is not None else "none"
    print(f"\nrecommended cooldown: {chosen} ({r.reason})")


def _short(seconds: float) -> str:
    s = int(seconds)
    for unit, size in (("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def _print_replay(r: kubescale.Replay) -> None:
    m = r.summary
    first, last = (r.steps[0].time, r.steps[-1].time) if r.steps else (None, None)
    tried = f" (trying {r.label})" if r.overrides else ""
    print(f"{r.service} ({r.target}): cooldown {r.cooldown}{tried}")
    print(f"{m.steps} steps of {r.step}, from {first} to {last}")
    print(_table([{"": k, "value": v} for k, v in m.rows()]))
    print()
    rows = [
        {
            "time": s.time.strftime("%Y-%m-%d %H:%M:%S"),
            "replicas": f"{s.replicas_before} -> {s.replicas}",
            "reason": s.reason,
        }
        for s in r.transitions()
    ]
    print(_table(rows) if rows else "No transitions.")


def _print_released(released: Sequence[kubescale.Decision], dry_run: bool) -> None:
    if not released:
        print("No ElastiService is held by kubescale.")
        return
    rows = [
        {
            "namespace": d.namespace,
            "name": d.name,
            "done": ", ".join(d.actions) or "-",
            "result": d.error or d.reason,
        }
        for d in released
    ]
    print(_table(rows))
    if dry_run:
        print("(dry run: nothing was written)")


class JsonFormatter(logging.Formatter):
    """One JSON object per log line (``--log-format json``): ``ts`` (UTC, RFC 3339), ``level``,
    ``logger``, ``msg``, and ``exc`` when an exception is attached."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line: dict[str, Any] = {
            "ts": ts,
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _configure_logging(verbose: int, log_format: str) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def _scale_args(args: argparse.Namespace) -> tuple[list[str], int]:
    """The targets and the count of ``scale``: ``--replicas N``, or a count after one TYPE/NAME
    (``kubescale scale deploy/web 3``)."""
    targets = list(args.targets)
    if args.replicas is not None:
        return targets, args.replicas
    if len(targets) == 2 and "/" in targets[0] and targets[1].isdigit():
        return [targets[0]], int(targets[1])
    raise UsageError("give the count with --replicas N (or as `kubescale scale TYPE/NAME N`)")


def _is_fleet(args: argparse.Namespace, targets: list[str]) -> bool:
    """Whether ``scale`` names more than one target (several references, or a type)."""
    one_type = len(targets) == 1 and "/" not in targets[0]
    if one_type and not (args.selector or args.all):
        raise UsageError(f"{targets[0]!r} is a type: add -l SELECTOR or --all, or name TYPE/NAME targets")
    if args.all and args.selector:
        raise UsageError("use either -l/--selector or --all")
    if (args.selector or args.all or args.all_namespaces) and not one_type:
        raise UsageError("-l, --all and -A choose objects of one TYPE; give the type, not TYPE/NAME")
    if args.at_least and (one_type or len(targets) > 1):
        raise UsageError("--at-least applies to one TYPE/NAME target")
    if args.all_namespaces and args.namespace:
        raise UsageError("use either -n/--namespace or -A/--all-namespaces")
    return one_type or len(targets) > 1


def _emit_batch(batch: kubescale.ScaleBatch, output: str, dry_run: bool) -> int:
    """Prints a fleet call's entries; 1 when any target failed."""
    if output in ("json", "yaml"):
        data = batch.to_dict()
        print(json.dumps(data, indent=2) if output == "json" else _yaml(data))
    elif not batch:
        print("No resources found.")
    else:
        rows = batch.rows()
        print(_table(rows))
        note = " (dry run: nothing written)" if dry_run else ""
        print(f"\n{batch!r}{note}", file=sys.stderr)
    return 1 if batch.failed else 0


def _client_dry_run(handler: kubescale.ScaleHandler, args: argparse.Namespace) -> dict[str, Any]:
    """``scale --dry-run=client``: what the change would be, from one read; nothing is sent."""
    scale = handler.get_scale(args.target, namespace=args.namespace)
    group = scale.api_version.rpartition("/")[0]
    target = f"{scale.kind.lower()}{'.' + group if group else ''}/{scale.name}"
    current = scale.spec_replicas
    wanted = max(current, args.replicas) if args.at_least else args.replicas
    reason = f"would scale from {current} to {wanted}" if wanted != current else f"already at {current}"
    return {
        "target": target,
        "previous": current,
        "replicas": wanted,
        "changed": False,
        "reason": f"{reason} (dry run: nothing sent)",
    }


def completion_script(shell: str) -> str:
    """The shell completion script for ``bash``, ``zsh`` or ``fish`` (``kubescale completion``)."""
    return _completion.script(_parser(), shell)


def _run(argv: Optional[Sequence[str]]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "crd":
        print(kubescale.elastiservice_crd())
        return 0
    if args.command == "completion":
        print(completion_script(args.shell))
        return 0
    if args.command == "scale":
        try:
            args.targets, args.replicas = _scale_args(args)
            args.fleet = _is_fleet(args, args.targets)
        except UsageError as e:
            parser.error(str(e))
    if args.command in ("run", "release") and args.dry_run == "server":
        parser.error(f"--dry-run=server is not supported by {args.command} (use --dry-run=client)")
    _configure_logging(args.verbose, getattr(args, "log_format", "text"))
    watch = args.namespace if args.command == "run" else None
    handler = kubescale.ScaleHandler(
        watch, kubeconfig=args.kubeconfig, context=args.context, record_events=not args.no_events
    )
    ns = args.namespace
    with handler:
        if args.command == "get":
            _emit(handler.get_scale(args.target, namespace=ns), args.output)
        elif args.command == "scale":
            if args.fleet:
                batch = handler.scale_all(
                    args.targets,
                    args.replicas,
                    selector=args.selector,
                    namespace=ns,
                    all_namespaces=args.all_namespaces,
                    current_replicas=args.current_replicas,
                    dry_run=args.dry_run != "none",
                )
                return _emit_batch(batch, args.output, args.dry_run != "none")
            args.target = args.targets[0]
            if args.dry_run == "client" and args.current_replicas is None:
                _emit(_client_dry_run(handler, args), args.output)
            else:
                result = handler.scale(
                    args.target,
                    args.replicas,
                    namespace=ns,
                    at_least=args.at_least,
                    dry_run=args.dry_run != "none",
                    current_replicas=args.current_replicas,
                )
                _emit(result, args.output)
        elif args.command in ("sleep", "wake"):
            if args.all_namespaces and ns:
                raise UsageError("use either -n/--namespace or -A/--all-namespaces")
            act = handler.sleep if args.command == "sleep" else handler.wake
            types = [t.strip() for t in args.types.split(",") if t.strip()]
            batch = act(
                ns,
                selector=args.selector,
                types=types,
                all_namespaces=args.all_namespaces,
                dry_run=args.dry_run != "none",
            )
            return _emit_batch(batch, args.output, args.dry_run != "none")
        elif args.command == "scale-to-zero":
            _emit(handler.scale_to_zero(args.target, namespace=ns), args.output)
        elif args.command == "scale-from-zero":
            result = handler.scale_from_zero(
                args.target, args.min_replicas, namespace=ns, restore=not args.no_restore
            )
            _emit(result, args.output)
        elif args.command == "wait":
            _emit(_wait(handler, args), args.output)
        elif args.command == "events":
            _emit(handler.events(args.target, namespace=ns), args.output)
        elif args.command == "replay" and args.recommend:
            recommendation = _recommend(handler, args)
            if args.output == "table":
                _print_recommendation(recommendation)
            else:
                _emit(recommendation, args.output)
        elif args.command == "replay":
            replay = _replay(handler, args)
            if args.output == "table":
                _print_replay(replay)
            elif args.output == "json":
                print(json.dumps(replay.to_dict(), indent=2, default=str))
            else:
                print(_yaml(json.loads(json.dumps(replay.to_dict(), default=str))))
        elif args.command == "release":
            if args.all_namespaces and ns:
                raise UsageError("use either -n/--namespace or -A/--all-namespaces")
            scope = None if args.all_namespaces else (ns or handler.default_namespace)
            dry_run = args.dry_run == "client"
            released = handler.release_all(scope, dry_run=dry_run)
            if args.output == "table":
                _print_released(released, dry_run)
            else:
                _emit(list(released), args.output)
            if any(d.error for d in released):
                return 1
        elif args.command == "run":
            if args.install_crds:
                handler.install_crds()
            interval = (
                _seconds("--polling-interval", args.polling_interval) if args.polling_interval else None
            )
            if args.metrics_bind_address:
                bound = handler.serve_metrics(args.metrics_bind_address)
                print(f"serving /metrics, /healthz and /readyz on {bound}", file=sys.stderr)
            signal.signal(signal.SIGTERM, lambda *_: handler.close())
            try:
                handler.run(
                    interval,
                    leader_election=args.leader_election,
                    lease_name=args.lease_name,
                    dry_run=args.dry_run == "client",
                    qps=args.kube_api_qps,
                    burst=args.kube_api_burst,
                    shards=args.shards,
                    cold_start_timeout=args.cold_start_timeout,
                )
            except KeyboardInterrupt:
                print("stopped", file=sys.stderr)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line; returns the exit code."""
    try:
        return _run(argv)
    except UsageError as e:
        print(f"kubescale: error: {e}", file=sys.stderr)
        return 2
    except ApiError as e:
        # The server refused (an InvalidError is also a ValueError, but not a usage error).
        print(f"kubescale: error: {e}", file=sys.stderr)
        return 1
    except (TypeError, ValueError) as e:
        print(f"kubescale: error: {e}", file=sys.stderr)
        return 2
    except KubeScaleError as e:
        print(f"kubescale: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
