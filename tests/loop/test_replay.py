"""replay(): the loop's decisions over a service's metric history, against a real Prometheus
whose past is backfilled (promtool) and a cluster whose audit log shows that nothing is written.

The history, one sample a minute from T0 (six hours ago, on a whole hour of the step grid):
- ``busy_idle``: 5 (busy) for an hour, 0 (idle) for three, then 5 again;
- ``gappy``: 5 for an hour, no samples for 30 minutes, then 0;
- ``up{container="prometheus"}``: 1 throughout, from an hour before T0 (the health query's
  window).
The threshold is 1, the cooldown 15 minutes: every expected step below is computed by hand from
the loop's rules.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import kubescale
import kubescale.asyncio
from kubescale.testing import LocalCluster

from helpers import DEPLOY, Idle, create_es, elasti_service, spec_replicas
from helpers.prometheus import LocalPrometheus, openmetrics

NOW = time.time()
T0 = (int(NOW) // 3600) * 3600 - 6 * 3600
MINUTE = 60


def at(minutes: int) -> datetime:
    return datetime.fromtimestamp(T0 + minutes * MINUTE, timezone.utc)


# Wake-ups the loop measured, (minute, seconds): 10 s, 12 s and 14 s, a mean of 12 s.
WAKE_UPS = [(60, 10.0), (120, 12.0), (240, 14.0)]
READY = 'outcome="ready",since="decision"'


def woken(minute: int) -> tuple[float, float]:
    """The histogram's sum and count at `minute`."""
    done = [seconds for at_m, seconds in WAKE_UPS if at_m <= minute]
    return sum(done), float(len(done))


def history() -> str:
    minutes = range(-60, int(NOW - T0) // MINUTE)
    busy_idle = [(T0 + m * MINUTE, 5.0 if (m < 60 or m >= 240) else 0.0) for m in minutes if m >= 0]
    gappy = [(T0 + m * MINUTE, 5.0 if m < 60 else 0.0) for m in minutes if m >= 0 and not 60 <= m < 90]
    return openmetrics(
        {
            'up{container="prometheus",job="history"}': [(T0 + m * MINUTE, 1.0) for m in minutes],
            'busy_idle{job="history"}': busy_idle,
            'gappy{job="history"}': gappy,
            # The loop's own wake-ups (the histogram's sum and count): mean 12 s.
            f"kubescale_cold_start_seconds_sum{{{READY}}}": [(T0 + m * MINUTE, woken(m)[0]) for m in minutes],
            f"kubescale_cold_start_seconds_count{{{READY}}}": [
                (T0 + m * MINUTE, woken(m)[1]) for m in minutes
            ],
        }
    )


@pytest.fixture(scope="module")
def prom() -> Iterator[LocalPrometheus]:
    with LocalPrometheus(history=history()) as p:
        yield p


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    rule = {"level": "Metadata", "omitStages": ["RequestReceived"]}
    with LocalCluster(controller_manager=False, audit_rules=[rule]) as c:
        with kubescale.ScaleHandler(kubeconfig=c.kubeconfig_path) as h:
            h.install_crds()
        yield c


@pytest.fixture
def ns(cluster: LocalCluster) -> str:
    return cluster.create_namespace(wait_for_service_account=False)


@pytest.fixture
def h(cluster: LocalCluster, ns: str) -> Iterator[kubescale.ScaleHandler]:
    with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path) as handler:
        yield handler


def service(
    cluster: LocalCluster, ns: str, prom: LocalPrometheus, query: str, cooldown: int = 900, **spec: Any
) -> None:
    obj = elasti_service("web", "unused", cooldown=cooldown)
    obj["spec"]["triggers"] = [
        {"type": "prometheus", "metadata": {"serverAddress": prom.url, "query": query, "threshold": "1"}}
    ]
    obj["spec"].update(spec)
    cluster.create_deployment(ns, "web", 2)
    create_es(cluster, ns, obj, age=False)


def counts(r: kubescale.Replay) -> dict[int, int]:
    """Minute since T0 → the count after that step."""
    return {round((s.time.timestamp() - T0) / MINUTE): s.replicas for s in r.steps}


def writes_during(cluster: LocalCluster, action: Any) -> tuple[Any, list[str]]:
    start = len(cluster.audit_entries())
    result = action()
    time.sleep(0.5)  # entries are written as responses complete
    writes = [
        f"{e['verb']} {e['requestURI']}"
        for e in cluster.audit_entries()[start:]
        if e["verb"] not in ("get", "list", "watch")
    ]
    return result, writes


def test_idle_for_three_hours_is_at_zero_from_cooldown_until_busy_and_writes_nothing(
    h: kubescale.ScaleHandler, cluster: LocalCluster, ns: str, prom: LocalPrometheus
) -> None:
    service(cluster, ns, prom, "busy_idle")
    r, writes = writes_during(cluster, lambda: h.replay("web", start=at(0), end=at(300), step="1m"))
    assert writes == []
    c = counts(r)
    assert len(c) == 301 and r.summary.steps == 301
    # Busy until minute 59 (the last scale-up); a cooldown (15 min) later, minute 74, to zero;
    # back to the remembered 2 at the first busy step, minute 240.
    assert [m for m in c if c[m] == 0] == list(range(74, 240))
    assert c[73] == 2 and c[240] == 2 and c[300] == 2
    # The first cooldown of the range: the service counts as created at its start.
    assert {s.reason for s in r.steps[:15]} == {"created less than one cooldown period ago"}
    down, up = r.transitions()
    assert (down.time, down.replicas_before, down.replicas, down.direction) == (at(74), 2, 0, "scale_down")
    assert (up.time, up.replicas, up.cold_start, up.answer) == (at(240), 2, True, kubescale.Answer.WANTS_UP)
    assert up.triggers[0].value == 5.0 and r.steps[100].triggers[0].value == 0.0
    m = r.summary
    assert (m.scale_downs, m.scale_ups, m.cold_starts) == (1, 1, 1)
    assert m.time_at_zero == m.longest_at_zero == timedelta(minutes=166)
    assert m.fraction_at_zero == pytest.approx(166 / 301)
    assert m.replica_hours_saved == pytest.approx(166 / 60 * 2)
    assert m.baseline_replicas == 2
    # Nothing the user owns changed.
    assert spec_replicas(cluster, ns, DEPLOY) == 2
    # Shown in a notebook: the summary, the plot with zero shaded, the transitions.
    page = r._repr_html_()
    assert "<svg" in page and "at zero" in page and "2 → 0" in page
    d = r.to_dict()
    assert len(d["steps"]) == 301 and d["summary"]["scale_downs"] == 1
    assert d["steps"][74]["direction"] == "scale_down" and d["steps"][240]["answer"] == "wants_up"


def test_overrides_change_the_outcome_as_computed_by_hand(
    h: kubescale.ScaleHandler, cluster: LocalCluster, ns: str, prom: LocalPrometheus
) -> None:
    service(cluster, ns, prom, "busy_idle")
    stored = h.replay("web", start=at(0), end=at(300))
    short = h.replay("web", start=at(0), end=at(300), cooldown="5m")
    # Down 5 minutes after the last busy step instead of 15.
    assert [m for m, n in counts(short).items() if n == 0] == list(range(64, 240))
    assert short.cooldown == timedelta(minutes=5) and short.overrides == {"cooldown": "5m"}
    # A threshold above every value: down once the first cooldown has passed, never up again.
    high = h.replay("web", start=at(0), end=at(300), threshold=10)
    assert [m for m, n in counts(high).items() if n == 0] == list(range(15, 301))
    assert (high.summary.scale_ups, high.summary.cold_starts) == (0, 0)
    # A minimum of 4 raises the running target at the first scale-up, and it comes back to 4.
    four = h.replay("web", start=at(0), end=at(300), min_target_replicas=4)
    assert (counts(four)[14], counts(four)[15], counts(four)[240]) == (2, 4, 4)
    assert four.summary.baseline_replicas == 4
    # Side by side.
    both = short.compare(stored)
    assert "cooldown=5m" in both._repr_html_() and "as stored" in both._repr_html_()
    assert both.to_dict()["cooldown=5m"]["time_at_zero"] == 176 * 60
    assert both.to_dict()["as stored"]["time_at_zero"] == 166 * 60


def test_outside_the_enabled_period_it_never_goes_to_zero(
    h: kubescale.ScaleHandler, cluster: LocalCluster, ns: str, prom: LocalPrometheus
) -> None:
    far = (datetime.fromtimestamp(T0, timezone.utc).hour + 12) % 24
    period = {"schedule": f"0 {far} * * *", "duration": "1h"}
    service(cluster, ns, prom, "busy_idle", enabledPeriod=period)
    r = h.replay("web", start=at(0), end=at(300))
    assert min(counts(r).values()) == 2 and r.summary.time_at_zero == timedelta(0)
    assert {s.reason for s in r.steps[15:]} == {"outside the enabled period"}
    # The same service with the period removed does go to zero.
    assert h.replay("web", start=at(0), end=at(300), enabled_period="always").summary.scale_downs == 1


def test_a_gap_in_the_data_is_unhealthy_and_holds_the_count(
    h: kubescale.ScaleHandler, cluster: LocalCluster, ns: str, prom: LocalPrometheus
) -> None:
    service(cluster, ns, prom, "gappy")
    r = h.replay("web", start=at(0), end=at(120))
    by_minute = {round((s.time.timestamp() - T0) / MINUTE): s for s in r.steps}
    # Prometheus carries the last sample for its 5-minute lookback; after that, no data.
    for m in range(66, 90):
        s = by_minute[m]
        assert (s.answer, s.triggers[0].note, s.replicas) == (
            kubescale.Answer.UNHEALTHY,
            "query: no sample",
            2,
        ), s
        assert s.reason == "a trigger is unhealthy"
    # Idle data again at minute 90; the last scale-up was long ago: to zero at once.
    assert by_minute[89].replicas == 2 and by_minute[90].replicas == 0


def test_bad_input_is_named_and_the_handler_stays_usable(
    h: kubescale.ScaleHandler, cluster: LocalCluster, ns: str, prom: LocalPrometheus
) -> None:
    service(cluster, ns, prom, "busy_idle")
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"start": at(10), "end": at(0)}, kubescale.InvalidValueError, "end"),
        ({"start": at(0), "step": "500ms"}, kubescale.InvalidValueError, "step"),
        ({"start": "30h", "step": 1}, kubescale.InvalidValueError, "at most"),
        ({"start": at(0), "threshold": 2, "trigger": 3}, kubescale.InvalidValueError, "no trigger 3"),
        ({"start": "yesterday"}, kubescale.InvalidValueError, "RFC 3339"),
        ({"start": 3600}, TypeError, "start must be"),
        ({"start": at(0), "cooldown": True}, TypeError, "cooldown"),
        ({"start": at(0), "enabled_period": {"schedule": "no"}}, TypeError, "enabled_period"),
        (
            {"start": at(0), "enabled_period": {"schedule": "61 * * * *", "duration": "1h"}},
            kubescale.InvalidValueError,
            "schedule",
        ),
    ]
    for kwargs, error, needle in cases:
        with pytest.raises(error, match=needle):
            h.replay("web", **kwargs)
    with pytest.raises(kubescale.NotFoundError):
        h.replay("nobody", start="1h")
    assert h.replay("web", start="10m").summary.steps in (10, 11, 12)


class NoHistory(Idle):
    """A scaler without history (its name is in the error a replay raises)."""


class IdleAfter(NoHistory):
    """Busy until minute 30 after T0, idle after; unhealthy for minute 100 only; no sample
    (thus unhealthy) for minute 101."""

    def history(self, start: datetime, end: datetime, step: timedelta) -> Iterator[kubescale.HistorySample]:
        t = start
        while t <= end:
            minute = round((t.timestamp() - T0) / MINUTE)
            if minute != 101:
                yield kubescale.HistorySample(t, minute != 100, minute >= 30, float(minute < 30))
            t += step


class AsyncIdleAfter(IdleAfter):
    async def history(  # type: ignore[override]
        self, start: datetime, end: datetime, step: timedelta
    ) -> list[kubescale.HistorySample]:
        await asyncio.sleep(0)
        return list(IdleAfter.history(self, start, end, step))


def python_service(cluster: LocalCluster, ns: str, type_: str) -> None:
    cluster.create_deployment(ns, "web", 3)
    create_es(cluster, ns, elasti_service("web", "k", cooldown=600, trigger_type=type_), age=False)


def test_a_python_scaler_replays_through_its_history_method(
    h: kubescale.ScaleHandler, cluster: LocalCluster, ns: str
) -> None:
    h.register_scaler("idle-after", IdleAfter)
    python_service(cluster, ns, "idle-after")
    r = h.replay("web", start=at(0), end=at(120), step=timedelta(minutes=1))
    c = counts(r)
    # Busy until 29 (last up), cooldown 10 minutes: zero from minute 39.
    assert c[38] == 3 and c[39] == 0 and c[120] == 0
    assert r.steps[100].answer == r.steps[101].answer == kubescale.Answer.UNHEALTHY
    assert r.steps[101].triggers[0].note == "no sample"
    assert r.steps[10].triggers[0].value == 1.0


def test_a_python_scaler_without_history_is_named(
    h: kubescale.ScaleHandler, cluster: LocalCluster, ns: str
) -> None:
    h.register_scaler("no-history", NoHistory)
    python_service(cluster, ns, "no-history")
    with pytest.raises(kubescale.ScalerError, match="NoHistory has no history"):
        h.replay("web", start="1h")
    assert h.check_and_scale_service("web", dry_run=True).error is None


def test_the_async_handler_replays_with_coroutine_history(cluster: LocalCluster, ns: str) -> None:
    python_service(cluster, ns, "async-idle-after")
    seen: list[tuple[int, int]] = []

    async def main() -> kubescale.Replay:
        async with kubescale.asyncio.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path) as a:
            a.register_scaler("async-idle-after", AsyncIdleAfter)
            return await a.replay(
                "web", start=at(0), end=at(2500), step="1m", on_progress=lambda d, t: seen.append((d, t))
            )

    r = asyncio.run(main())
    assert counts(r)[39] == 0 and r.summary.steps == 2501
    assert seen == [(1000, 2501), (2000, 2501), (2501, 2501)]


def live_counts(cluster: LocalCluster, ns: str, stop: threading.Event, out: list[tuple[float, int]]) -> None:
    last = None
    while not stop.is_set():
        n = spec_replicas(cluster, ns, DEPLOY)
        if n != last:
            out.append((time.time(), n))
            last = n
        time.sleep(0.1)


def test_a_replay_of_what_the_live_loop_ran_over_makes_the_same_transitions(
    h: kubescale.ScaleHandler, cluster: LocalCluster, ns: str, prom: LocalPrometheus
) -> None:
    metric = f"live_{ns.replace('-', '_')}"
    prom.push(metric, "5", job=ns)
    prom.wait_until(lambda: prom.value(metric) == 5.0, f"{metric} scraped")
    cluster.create_deployment(ns, "web", 2)
    obj = elasti_service("web", "unused", cooldown=4)
    obj["spec"]["triggers"] = [
        {"type": "prometheus", "metadata": {"serverAddress": prom.url, "query": metric, "threshold": "1"}}
    ]
    create_es(cluster, ns, obj, age=False)
    seen: list[tuple[float, int]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=live_counts, args=(cluster, ns, stop, seen))
    watcher.start()
    started = time.time()
    loop = threading.Thread(target=h.run, kwargs={"polling_interval": 1.0})
    loop.start()
    try:
        for value, seconds in (("5", 8), ("0", 12), ("5", 6), ("0", 12)):
            prom.push(metric, value, job=ns)
            time.sleep(seconds)
    finally:
        h.close()
        loop.join(30)
        stop.set()
        watcher.join()
    ended = time.time()
    live = [(t, n) for t, n in seen[1:]]
    assert [n for _, n in live] == [0, 2, 0], seen
    with kubescale.ScaleHandler(ns, kubeconfig=cluster.kubeconfig_path) as fresh:
        # The replay starts from the target's current count (0 now): start it from there too.
        fresh.scale("deployment/web", 2)
        r = fresh.replay(
            "web",
            start=datetime.fromtimestamp(started, timezone.utc),
            end=datetime.fromtimestamp(ended, timezone.utc),
            step="1s",
        )
    replayed = [(s.time.timestamp(), s.replicas) for s in r.transitions()]
    assert [n for _, n in replayed] == [0, 2, 0], replayed
    for (lt, _), (rt, _) in zip(live, replayed):
        assert abs(lt - rt) <= 3.0, (live, replayed)


def test_the_command_line_prints_the_summary_and_transitions_and_json_steps(
    cluster: LocalCluster, ns: str, prom: LocalPrometheus
) -> None:
    import json
    import os
    import subprocess
    import sys

    service(cluster, ns, prom, "busy_idle")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kubescale.cli", "replay", "web", "-n", ns, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "KUBECONFIG": cluster.kubeconfig_path},
        )

    since, until = at(0).isoformat().replace("+00:00", "Z"), at(300).isoformat().replace("+00:00", "Z")
    out = cli("--since", since, "--until", until, "--step", "1m", "--cooldown", "5m")
    assert out.returncode == 0, out.stderr
    assert "cooldown=300s" in out.stdout and "scale-downs" in out.stdout
    lines = out.stdout.splitlines()
    assert any(at(64).strftime("%Y-%m-%d %H:%M:%S") in ln and "2 -> 0" in ln for ln in lines), out.stdout
    assert any(at(240).strftime("%Y-%m-%d %H:%M:%S") in ln and "0 -> 2" in ln for ln in lines), out.stdout
    data = json.loads(cli("--since", since, "--until", until, "-o", "json").stdout)
    assert len(data["steps"]) == 301 and data["summary"]["time_at_zero"] == 166 * 60
    assert data["steps"][74]["direction"] == "scale_down"
    bad = cli("--since", since, "--step", "0.5s")
    assert bad.returncode == 2 and "step" in bad.stderr and "Traceback" not in bad.stderr


def test_the_replay_notebook_shows_the_plot_and_the_comparison(
    cluster: LocalCluster, ns: str, prom: LocalPrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    from helpers import ROOT

    service(cluster, ns, prom, "busy_idle")
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig_path)
    monkeypatch.setenv("NAMESPACE", ns)
    monkeypatch.setenv("SINCE", at(0).isoformat())
    nb = nbformat.read(ROOT / "examples" / "replay.ipynb", as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3").execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(o.output_type != "error" for c in code for o in c.outputs)

    def text(cell: Any) -> str:
        return "".join(
            o.get("text", "")
            + o.get("data", {}).get("text/html", "")
            + o.get("data", {}).get("text/plain", "")
            for o in cell.outputs
        )

    assert "<svg" in text(code[0]) and "at zero" in text(code[0]) and "2 → 0" in text(code[0])
    assert "cooldown=5m" in text(code[1]) and "as stored" in text(code[1])
    assert "cold starts: 1" in text(code[2])
    assert text(code[3]).count("cooldown") == 4
    # The recommendation: its reason and the curve as a table.
    assert "saves the most replica-hours within the budget" in text(code[4]) and "<table>" in text(code[4])
    assert "<svg" in text(code[4]) and "replica-hours saved (max" in text(code[4])


class NeverReturns(NoHistory):
    def history(self, start: datetime, end: datetime, step: timedelta) -> list[kubescale.HistorySample]:
        time.sleep(3)
        return []


def test_a_history_that_takes_too_long_is_a_scaler_error_and_the_handler_goes_on(
    h: kubescale.ScaleHandler, cluster: LocalCluster, ns: str
) -> None:
    h.register_scaler("slow-history", NeverReturns, timeout=0.5)
    python_service(cluster, ns, "slow-history")
    started = time.monotonic()
    with pytest.raises(kubescale.ScalerError, match=r"history took longer than 0\.5s"):
        h.replay("web", start="1h")
    assert time.monotonic() - started < 2.5
    h.register_scaler("slow-history", IdleAfter)
    time.sleep(3)  # the stuck call returns; the trigger may be asked again
    assert h.replay("web", start=at(0), end=at(60)).summary.steps == 61


def test_the_recommended_cooldown_is_the_one_computed_by_hand_and_nothing_is_written(
    h: kubescale.ScaleHandler, cluster: LocalCluster, ns: str, prom: LocalPrometheus
) -> None:
    """busy_idle: busy until minute 59, idle until 239, busy again from 240. With a cooldown of
    C minutes (under an hour) the target is at zero from minute 59 + C to 239, and the traffic at
    240 is one cold start; with 4 hours the service is "created less than a cooldown ago" until
    minute 240, when the traffic is back: never at zero. Replica-hours saved: 2 times the minutes
    at zero, over 60."""
    service(cluster, ns, prom, "busy_idle")
    minutes = [5, 15, 30, 45, 240]

    def recommend(**budget: Any) -> kubescale.CooldownRecommendation:
        budget.setdefault("candidates", [m * 60 for m in minutes])
        return h.recommend_cooldown("web", start=at(0), end=at(300), step="1m", **budget)

    r, writes = writes_during(cluster, lambda: recommend(max_cold_starts_per_day=5))
    assert writes == []
    by_hand = {5: 176, 15: 166, 30: 151, 45: 136, 240: 0}  # minutes at zero
    days = 301 / 1440
    for p, m in zip(r.points, minutes):
        assert p.cooldown == timedelta(minutes=m)
        assert p.time_at_zero == timedelta(minutes=by_hand[m]), m
        assert p.replica_hours_saved == pytest.approx(2 * by_hand[m] / 60), m
        assert p.cold_starts == (1 if by_hand[m] else 0)
        assert p.cold_starts_per_day == pytest.approx(p.cold_starts / days)
    # One cold start in 301 minutes is 4.8 a day: within 5, the shortest cooldown saves the most.
    assert r.cooldown == timedelta(minutes=5), r.reason
    # Within 4 a day, only the cooldown that never reaches zero fits; within a wait shorter than
    # a polling interval plus the wake-up, too.
    assert recommend(max_cold_starts_per_day=4).cooldown == timedelta(minutes=240)
    assert recommend(max_wait="20s", polling_interval="30s").cooldown == timedelta(minutes=240)
    # No budget: the knee, with its reason.
    free = recommend()
    assert free.knee == free.cooldown and "knee" in free.reason
    d = free.to_dict()
    assert [p["cooldown"] for p in d["points"]] == [m * 60.0 for m in minutes]
    assert "<table>" in free._repr_html_()
    with pytest.raises(kubescale.InvalidValueError, match="candidates"):
        recommend(candidates=[])
    with pytest.raises(kubescale.InvalidValueError, match="max_cold_starts_per_day"):
        recommend(max_cold_starts_per_day=-1)


def test_the_command_line_recommends_a_cooldown(
    cluster: LocalCluster, ns: str, prom: LocalPrometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    from kubescale import cli

    service(cluster, ns, prom, "busy_idle")
    since = f"{int(time.time() - T0)}s"
    argv = [
        "replay",
        "web",
        "-n",
        ns,
        "--kubeconfig",
        cluster.kubeconfig_path,
        "--since",
        since,
    ]
    code = cli.main([*argv, "--recommend", "--max-cold-starts-per-day", "5", "--candidates", "5m,15m,4h"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "recommended cooldown: 5m (5m saves the most replica-hours within the budget" in out, out
    assert "COOLDOWN" in out and "4h" in out
    code = cli.main([*argv, "--recommend", "--candidates", "5m,4h", "-o", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and [p["cooldown"] for p in data["points"]] == [300.0, 14400.0]
    assert cli.main([*argv, "--recommend", "--cooldown", "5m"]) == 2


def test_each_cold_start_costs_its_request_a_polling_interval_and_the_wake_up(
    h: kubescale.ScaleHandler, cluster: LocalCluster, ns: str, prom: LocalPrometheus
) -> None:
    service(cluster, ns, prom, "busy_idle")
    r = h.replay("web", start=at(0), end=at(300), step="1m", polling_interval="30s", wake_up=20)
    (cold,) = [s for s in r.steps if s.cold_start]
    assert round((cold.time.timestamp() - T0) / MINUTE) == 240  # the traffic back after the idle hours
    assert cold.wait == timedelta(seconds=50)
    assert {s.wait for s in r.steps if not s.cold_start} == {timedelta(0)}
    assert (r.summary.cold_start_wait, r.summary.worst_wait) == (timedelta(seconds=50), timedelta(seconds=50))
    assert r.summary.to_dict()["worst_wait"] == 50.0
    assert ("cold-start wait", "50s in all, 50s at worst") in r.summary.rows()


def test_a_cold_start_costs_the_wake_up_the_loop_measured(
    h: kubescale.ScaleHandler, cluster: LocalCluster, ns: str, prom: LocalPrometheus
) -> None:
    service(cluster, ns, prom, "busy_idle")
    r = h.replay("web", start=at(0), end=at(300), step="1m", polling_interval="30s", wake_up="measured")
    (cold,) = [s for s in r.steps if s.cold_start]
    # A polling interval, then the mean of the three measured wake-ups.
    assert cold.wait == timedelta(seconds=42)
    rec = h.recommend_cooldown(
        "web",
        start=at(0),
        end=at(300),
        step="1m",
        polling_interval="30s",
        wake_up="measured",
        candidates=["5m"],
    )
    assert rec.points[0].worst_wait == timedelta(seconds=42)
    # None measured before the first wake-up: named, not guessed.
    with pytest.raises(kubescale.ScalerError, match="no wake-up measured"):
        h.replay("web", start=at(0), end=at(30), step="1m", wake_up="measured")
