"""A replay's summary, transitions, tables and SVG, from a result built by hand."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import pytest

from kubescale import Answer, Replay

T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def example(replicas: list[int], values: list[Optional[float]], **overrides: Any) -> Replay:
    """A replay built by hand (``Replay._example``): one step a minute per count from T0, the
    trigger's value beside it (None: no sample, unhealthy; below its threshold 0.5 it allows
    zero)."""
    return Replay._example(replicas, values, overrides=overrides)


@pytest.fixture
def replay() -> Replay:
    return example([2, 2, 0, 0, 0, 2, 2], [1.0, 0.2, 0.1, 0.0, None, 0.9, 1.2], cooldown=300)


def test_fields_come_through_as_python_values(replay: Replay) -> None:
    assert replay.service == "dev/web"
    assert replay.step == timedelta(minutes=1)
    assert replay.cooldown == timedelta(minutes=5)
    assert replay.steps[0].time == datetime.fromtimestamp(T0, timezone.utc)
    assert replay.steps[4].value is None
    assert replay.steps[4].triggers[0].note == "no sample"
    assert replay.steps[4].triggers[0].answer is Answer.UNHEALTHY
    assert replay.steps[0].answer is Answer.WANTS_UP
    assert replay.label == "cooldown=300"


def test_transitions_are_the_steps_that_changed_the_count(replay: Replay) -> None:
    moves = [(s.replicas_before, s.replicas) for s in replay.transitions()]
    assert moves == [(2, 0), (0, 2)]
    assert [s.cold_start for s in replay.transitions()] == [False, True]


def test_summary_rows_and_dict(replay: Replay) -> None:
    m = replay.summary
    assert m.time_at_zero == timedelta(minutes=3)
    rows = dict(m.rows())
    assert rows["time at zero"] == "3m00s (43%)"
    assert rows["replica-hours saved"] == "0.1 (against 2)"
    assert "3m00s (43%)" in m._repr_html_()
    d = replay.to_dict()
    assert d["summary"]["time_at_zero"] == 180.0
    assert d["steps"][2]["answer"] == "allows_zero"
    assert d["steps"][4]["answer"] == "unhealthy"
    assert len(d["steps"]) == 7


def test_svg_shades_the_stretch_at_zero_and_breaks_the_line_without_data(replay: Replay) -> None:
    svg = replay.plot_svg(width=700, height=200)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<title>at zero</title>") == 1
    # The value's line is cut at the step without a sample: two dotted segments.
    assert svg.count('stroke-dasharray="2,2"') == 2
    assert "threshold 0.5" in svg


def test_an_empty_replay_draws_an_empty_plot() -> None:
    r = example([], [])
    assert r.transitions() == []
    assert r.plot_svg().count("<") == 2


def test_html_and_comparison(replay: Replay) -> None:
    other = example([2] * 7, [1.0] * 7)
    html = replay._repr_html_()
    assert "transitions" in html and "2 → 0" in html
    both = replay.compare(other)
    assert set(both.to_dict()) == {"cooldown=300", "as stored"}
    assert "as stored" in both._repr_html_()


def test_to_pandas_indexes_by_time(replay: Replay) -> None:
    pandas = pytest.importorskip("pandas")
    frame = replay.to_pandas()
    assert isinstance(frame.index, pandas.DatetimeIndex)
    assert list(frame["replicas"]) == [2, 2, 0, 0, 0, 2, 2]


def test_the_plot_has_a_value_axis_time_ticks_and_unhealthy_steps(replay: Replay) -> None:
    svg = replay.plot_svg()
    # Right axis: the value from 0 to its highest (1.2) in 4 steps; left axis: 0 to 2 replicas.
    for label in ("0", "0.3", "0.6", "0.9", "1.2"):
        assert f'fill="#666">{label}</text>' in svg, label
    assert 'fill="#1f5fbf">2</text>' in svg
    # Six time ticks (HH:MM for a range within a day).
    assert len(re.findall(r'text-anchor="(?:start|middle|end)">\d\d:\d\d</text>', svg)) == 6
    # The step without a sample is unhealthy: one red band.
    assert svg.count("a trigger was unhealthy") == 1


def test_a_week_at_one_minute_steps_is_a_light_plot() -> None:
    n = 7 * 24 * 60
    values: list[Optional[float]] = [float(i % 97) for i in range(n)]
    replicas = [2 if v and v > 0.5 else 0 for v in values]
    svg = example(replicas, values).plot_svg()
    dotted = re.findall(r'<polyline points="([^"]*)" fill="none" stroke="#888"', svg)
    assert sum(len(p.split()) for p in dotted) <= 1500
    assert len(svg) < 400_000


def test_a_comparison_draws_both_on_one_scale() -> None:
    small = example([1, 1, 0], [0.2, 0.1, 0.1], cooldown=300)
    large = example([4, 4, 4], [5.0, 6.0, 8.0])
    html = small.compare(large)._repr_html_()
    # Both plots label their right axis up to the larger value (8), their left up to 4 replicas.
    assert html.count('fill="#666">8</text>') == 2
    assert html.count('fill="#1f5fbf">4</text>') == 2


def test_a_long_transitions_table_is_cut_with_a_count() -> None:
    replicas = [i % 2 * 2 for i in range(200)]
    r = example(replicas, [1.0] * 200)
    html = r._repr_html_()
    assert html.count("→") == 50
    assert f"… and {len(r.transitions()) - 50} more" in html


def test_a_replay_is_immutable_and_reads_as_python(replay: Replay) -> None:
    with pytest.raises(AttributeError):
        replay.cooldown = timedelta(0)  # type: ignore[misc]
    # The overrides are a copy: changing it changes no replay.
    replay.overrides["cooldown"] = 900
    assert replay.overrides == {"cooldown": 300}
    assert replay.steps is replay.steps  # built once
    assert replay.steps[2] == replay.transitions()[0]
    assert repr(replay).startswith("Replay(service='dev/web', steps=7, fraction_at_zero=0.43,")
    sample = "TriggerSample(answer=Answer.UNHEALTHY, value=None, note='no sample')"
    assert repr(replay.steps[4].triggers[0]) == sample
