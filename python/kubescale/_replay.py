"""The result of ``ScaleHandler.replay``: every step, a summary, and how a notebook shows them.

The numbers are computed by the core; this module only holds and presents them: a summary and
the transitions as HTML tables, an SVG plot (no plotting library needed), a pandas DataFrame
when pandas is installed, and two replays side by side.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Optional

from kubescale._native import Answer, html_table

if TYPE_CHECKING:
    import pandas

__all__ = ["Replay", "ReplayComparison", "ReplayStep", "ReplaySummary", "TriggerSample"]


@dataclass(frozen=True)
class TriggerSample:
    """One trigger's answer at one step.

    Attributes:
        answer: ``Answer.UNHEALTHY`` (also for a step without data), ``WANTS_UP`` or
            ``ALLOWS_ZERO``.
        value: The value the trigger compared (Prometheus: the query's value), if any.
        note: Why it is unhealthy, when the data says (``"no sample"``, an error).
    """

    answer: Answer
    value: Optional[float]
    note: Optional[str]


@dataclass(frozen=True)
class ReplayStep:
    """One step of a replay.

    Attributes:
        time: The step's time (UTC).
        triggers: Each trigger's sample, in the service's order.
        answer: The triggers' answer as the loop asks them, or None when an earlier rule
            (age, enabled period) decided and they were not asked.
        direction: ``"scale_up"``, ``"scale_down"`` or ``"no_scale"``.
        reason: Why, in the loop's words.
        replicas_before: The target's count before the step.
        replicas: Its count after the step.
        cold_start: A trigger wanted the target up while it was at zero (a request waited).
        wait: How long that request would have waited: at most a polling interval until a
            pass saw the traffic, plus the target's wake-up (``replay``'s
            ``polling_interval`` and ``wake_up``); zero without a cold start.
    """

    time: datetime
    triggers: tuple[TriggerSample, ...]
    answer: Optional[Answer]
    direction: str
    reason: str
    replicas_before: int
    replicas: int
    cold_start: bool
    wait: timedelta = timedelta(0)

    @property
    def value(self) -> Optional[float]:
        """The first trigger's value (what the plot draws)."""
        return self.triggers[0].value if self.triggers else None

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain values (answers as ``"unhealthy"``, ``"wants_up"`` or
        ``"allows_zero"``; ``value`` is the first trigger's).

        Returns:
            dict[str, Any]
        """
        return {
            "time": self.time,
            "value": self.value,
            "answer": _name(self.answer),
            "direction": self.direction,
            "reason": self.reason,
            "replicas_before": self.replicas_before,
            "replicas": self.replicas,
            "cold_start": self.cold_start,
            "wait": self.wait.total_seconds(),
            "triggers": [
                {"answer": _name(t.answer), "value": t.value, "note": t.note} for t in self.triggers
            ],
        }


@dataclass(frozen=True)
class ReplaySummary:
    """The numbers of a replay.

    Attributes:
        steps: Steps replayed.
        baseline_replicas: The count the target runs at when the loop leaves it up.
        time_at_zero: Time the target spent at zero.
        fraction_at_zero: ``time_at_zero`` over the range (0 to 1).
        replica_hours_saved: Replica-hours not run, against the baseline throughout.
        scale_downs: Times the target went to zero.
        scale_ups: Times it came back from zero.
        cold_starts: Steps where traffic found the target at zero.
        longest_at_zero: The longest stretch at zero.
        cold_start_wait: What the cold starts cost the requests that waited, in all.
        worst_wait: The longest one of them waited.
    """

    steps: int
    baseline_replicas: int
    time_at_zero: timedelta
    fraction_at_zero: float
    replica_hours_saved: float
    scale_downs: int
    scale_ups: int
    cold_starts: int
    longest_at_zero: timedelta
    cold_start_wait: timedelta = timedelta(0)
    worst_wait: timedelta = timedelta(0)

    def to_dict(self) -> dict[str, Any]:
        """Every field (durations in seconds).

        Returns:
            dict[str, Any]
        """
        d = asdict(self)
        d["time_at_zero"] = self.time_at_zero.total_seconds()
        d["longest_at_zero"] = self.longest_at_zero.total_seconds()
        d["cold_start_wait"] = self.cold_start_wait.total_seconds()
        d["worst_wait"] = self.worst_wait.total_seconds()
        return d

    def _rows(self) -> list[tuple[str, str]]:
        return [
            ("time at zero", f"{_span(self.time_at_zero)} ({self.fraction_at_zero:.0%})"),
            ("replica-hours saved", f"{self.replica_hours_saved:.1f} (against {self.baseline_replicas})"),
            ("scale-downs", str(self.scale_downs)),
            ("scale-ups", str(self.scale_ups)),
            ("cold starts", str(self.cold_starts)),
            ("cold-start wait", f"{_span(self.cold_start_wait)} in all, {_span(self.worst_wait)} at worst"),
            ("longest at zero", _span(self.longest_at_zero)),
            ("steps", str(self.steps)),
        ]


_NAMES = {Answer.UNHEALTHY: "unhealthy", Answer.WANTS_UP: "wants_up", Answer.ALLOWS_ZERO: "allows_zero"}


def _answer(name: Optional[str]) -> Any:
    """The core's answer (``"WANTS_UP"``) as the ``Answer`` it names."""
    return None if name is None else getattr(Answer, name)


def _name(a: Optional[Answer]) -> Optional[str]:
    return None if a is None else _NAMES[a]


def _span(d: timedelta) -> str:
    s = int(d.total_seconds())
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


@dataclass(frozen=True)
class Replay:
    """What the scale-to-zero loop would have done for one service over a range of time.

    Attributes:
        namespace: The service's namespace.
        name: The service's name.
        target: The target, ``TYPE/NAME``.
        step: Time between steps.
        cooldown: The cooldown used (after overrides and the 0 → 900 s rule).
        trigger_types: Each trigger's type.
        thresholds: Each trigger's ``threshold``, where it has a number.
        overrides: What was tried instead of the spec, as given to ``replay``.
        steps: Every step, in time order.
        summary: The numbers.
    """

    namespace: str
    name: str
    target: str
    step: timedelta
    cooldown: timedelta
    trigger_types: tuple[str, ...]
    thresholds: tuple[Optional[float], ...]
    overrides: dict[str, Any]
    steps: tuple[ReplayStep, ...] = field(repr=False)
    summary: ReplaySummary

    @classmethod
    def _from_native(cls, d: dict[str, Any]) -> Replay:
        steps = tuple(
            ReplayStep(
                time=_utc(s["time"]),
                triggers=tuple(
                    TriggerSample(_answer(t["answer"]), t["value"], t["note"]) for t in s["triggers"]
                ),
                answer=_answer(s["answer"]),
                direction=s["direction"],
                reason=s["reason"],
                replicas_before=s["replicas_before"],
                replicas=s["replicas"],
                cold_start=s["cold_start"],
                wait=timedelta(seconds=s.get("wait", 0.0)),
            )
            for s in d["steps"]
        )
        m = d["summary"]
        summary = ReplaySummary(
            **{
                **m,
                "time_at_zero": timedelta(seconds=m["time_at_zero"]),
                "longest_at_zero": timedelta(seconds=m["longest_at_zero"]),
                "cold_start_wait": timedelta(seconds=m.get("cold_start_wait", 0.0)),
                "worst_wait": timedelta(seconds=m.get("worst_wait", 0.0)),
            }
        )
        return cls(
            namespace=d["namespace"],
            name=d["name"],
            target=d["target"],
            step=timedelta(seconds=d["step"]),
            cooldown=timedelta(seconds=d["cooldown"]),
            trigger_types=tuple(d["trigger_types"]),
            thresholds=tuple(d["thresholds"]),
            overrides=dict(d["overrides"]),
            steps=steps,
            summary=summary,
        )

    @property
    def service(self) -> str:
        """``namespace/name`` of the ElastiService."""
        return f"{self.namespace}/{self.name}"

    @property
    def label(self) -> str:
        """The overrides in one line (``"cooldown=300"``), or ``"as stored"``."""
        return ", ".join(f"{k}={v}" for k, v in self.overrides.items()) or "as stored"

    def transitions(self) -> list[ReplayStep]:
        """The steps that changed the target's count."""
        return [s for s in self.steps if s.replicas != s.replicas_before]

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain values (for JSON): the summary and every step.

        Returns:
            dict[str, Any]
        """
        return {
            "service": self.service,
            "target": self.target,
            "step": self.step.total_seconds(),
            "cooldown": self.cooldown.total_seconds(),
            "trigger_types": list(self.trigger_types),
            "thresholds": list(self.thresholds),
            "overrides": dict(self.overrides),
            "summary": self.summary.to_dict(),
            "steps": [s.to_dict() for s in self.steps],
        }

    def to_pandas(self) -> pandas.DataFrame:
        """The steps as a DataFrame indexed by time (needs pandas: ``pip install pandas``).

        Returns:
            pandas.DataFrame: One row per step: ``value``, ``answer``, ``direction``,
            ``reason``, ``replicas_before``, ``replicas``, ``cold_start``.

        Raises:
            ImportError: pandas is not installed.
        """
        try:
            import pandas
        except ImportError as e:
            raise ImportError("Replay.to_pandas() needs pandas: pip install pandas") from e
        rows = [{k: v for k, v in s.to_dict().items() if k != "triggers"} for s in self.steps]
        frame: pandas.DataFrame = pandas.DataFrame(rows).set_index("time")
        return frame

    def compare(self, other: Replay) -> ReplayComparison:
        """This replay and ``other`` side by side (e.g. cooldown 300 against 900).

        Returns:
            ReplayComparison
        """
        return ReplayComparison(self, other)

    def plot_svg(self, width: int = 720, height: int = 220) -> str:
        """The replay as an SVG image: the replicas over time (a step line, left axis), the first
        trigger's value (dotted, right axis) with its threshold (dashed), stretches at zero and
        steps with an unhealthy trigger shaded, time ticks below (UTC). Above 1,500 steps the
        value's line is drawn from buckets, each its highest value.

        Returns:
            str: ``<svg ...>...</svg>``.
        """
        return _svg(self, width, height)

    def _repr_html_(self) -> str:
        caption = f"replay of {self.service} ({self.target}), {self.label}"
        summary = html_table(caption, ["", ""], [list(r) for r in self.summary._rows()])
        return f"<div>{summary}{self.plot_svg()}{_transitions_table(self)}</div>"

    def __repr__(self) -> str:
        m = self.summary
        return (
            f"Replay(service={self.service!r}, steps={m.steps}, at_zero={m.fraction_at_zero:.0%}, "
            f"scale_downs={m.scale_downs}, scale_ups={m.scale_ups}, cold_starts={m.cold_starts}, "
            f"overrides={self.overrides!r})"
        )


@dataclass(frozen=True)
class ReplayComparison:
    """Two replays side by side.

    Attributes:
        left: The first replay.
        right: The second.
    """

    left: Replay
    right: Replay

    def to_dict(self) -> dict[str, Any]:
        """Both summaries, keyed by each replay's label.

        Returns:
            dict[str, Any]
        """
        return {self.left.label: self.left.summary.to_dict(), self.right.label: self.right.summary.to_dict()}

    def _repr_html_(self) -> str:
        rows = [
            [name, a, b] for (name, a), (_, b) in zip(self.left.summary._rows(), self.right.summary._rows())
        ]
        table = html_table(f"replay of {self.left.service}", ["", self.left.label, self.right.label], rows)
        if not (self.left.steps and self.right.steps):
            return f"<div>{table}{self.left.plot_svg()}{self.right.plot_svg()}</div>"
        shared = _Scales.of(self.left, self.right)  # one scale for both: they compare by eye
        plots = "".join(_svg(r, 720, 220, shared) for r in (self.left, self.right))
        return f"<div>{table}{plots}</div>"


@dataclass(frozen=True)
class _Scales:
    """What a plot's axes span: time (seconds since the epoch), replicas and the trigger's value.
    Replays compared side by side share one."""

    t0: float
    t1: float
    replicas: float
    value: float

    @classmethod
    def of(cls, *replays: Replay) -> _Scales:
        stepped = [r for r in replays if r.steps]
        t0 = min(r.steps[0].time.timestamp() for r in stepped)
        t1 = max(r.steps[-1].time.timestamp() + r.step.total_seconds() for r in stepped)
        counts = [n for r in stepped for s in r.steps for n in (s.replicas, s.replicas_before)]
        values = [s.value for r in stepped for s in r.steps if s.value is not None]
        values += [t for r in stepped for t in r.thresholds[:1] if t is not None]
        return cls(t0, max(t1, t0 + 1.0), float(max([*counts, 1])), max([*values, 1e-9]))


# Above this many steps the value's line is drawn from buckets (each its highest value), so a
# week at one-minute steps stays a light image.
MAX_POINTS = 1500
# Transitions listed in a notebook's table; the rest are counted.
MAX_ROWS = 50


def _ticks(top: float, n: int = 4) -> list[float]:
    return [top * i / n for i in range(n + 1)]


def _num(v: float) -> str:
    return f"{v:.3g}"


def _time_label(t: float, span: float) -> str:
    fmt = "%H:%M" if span <= 86400 else "%m-%d %H:%M"
    return datetime.fromtimestamp(t, timezone.utc).strftime(fmt)


def _svg(r: Replay, width: int, height: int, scales: Optional[_Scales] = None) -> str:
    """The plot of ``Replay.plot_svg``: replicas on the left axis, the trigger's value on the
    right one, time below; stretches at zero shaded blue, steps with an unhealthy trigger red."""
    left, right, top_pad, bottom = 42, 48, 24, 34
    steps = r.steps
    if not steps:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"></svg>'
    sc = scales or _Scales.of(r)
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    step_s = r.step.total_seconds()

    def x(t: float) -> float:
        return left + (t - sc.t0) / (sc.t1 - sc.t0) * plot_w

    def y(v: float, most: float) -> float:
        return top_pad + plot_h - v / most * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">']

    def bands(test: Callable[[ReplayStep], bool], fill: str, title: str) -> None:
        i = 0
        while i < len(steps):
            if not test(steps[i]):
                i += 1
                continue
            j = i
            while j + 1 < len(steps) and test(steps[j + 1]):
                j += 1
            a, b = x(steps[i].time.timestamp()), x(steps[j].time.timestamp() + step_s)
            parts.append(
                f'<rect x="{a:.1f}" y="{top_pad}" width="{b - a:.1f}" height="{plot_h}" fill="{fill}">'
                f"<title>{title}</title></rect>"
            )
            i = j + 1

    bands(lambda s: s.replicas == 0, "#d0e4ff", "at zero")
    bands(lambda s: s.answer == Answer.UNHEALTHY, "#ffd6d6", "a trigger was unhealthy: no scaling")
    # Axes: replicas on the left, the value on the right, time below.
    axis = 'stroke="#999" stroke-width="1"'
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top_pad}" y2="{top_pad + plot_h}" {axis}/>')
    parts.append(
        f'<line x1="{left + plot_w}" x2="{left + plot_w}" y1="{top_pad}" y2="{top_pad + plot_h}" {axis}/>'
    )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top_pad + plot_h}" y2="{top_pad + plot_h}" {axis}/>'
    )
    for n in sorted({round(t) for t in _ticks(sc.replicas)}):
        ny = y(n, sc.replicas) + 4
        parts.append(f'<text x="{left - 4}" y="{ny:.1f}" text-anchor="end" fill="#1f5fbf">{n}</text>')
    for v in _ticks(sc.value):
        parts.append(
            f'<text x="{left + plot_w + 4}" y="{y(v, sc.value) + 4:.1f}" fill="#666">{_num(v)}</text>'
        )
    span = sc.t1 - sc.t0
    for k in range(6):
        t = sc.t0 + span * k / 5
        anchor = "start" if k == 0 else ("end" if k == 5 else "middle")
        parts.append(
            f'<text x="{x(t):.1f}" y="{height - bottom + 16}" text-anchor="{anchor}">'
            f"{html.escape(_time_label(t, span))}</text>"
        )
    # The trigger's value, dotted, broken where a step has none; bucketed above MAX_POINTS.
    per = max(1, -(-len(steps) // MAX_POINTS))
    points: list[Optional[tuple[float, float]]] = []
    for b in range(0, len(steps), per):
        bucket = [s.value for s in steps[b : b + per] if s.value is not None]
        t = steps[b].time.timestamp()
        points.append((t, max(bucket)) if bucket else None)
    segment: list[str] = []
    for p in [*points, None]:
        if p is None:
            if segment:
                dotted = 'fill="none" stroke="#888" stroke-dasharray="2,2"'
                parts.append(f'<polyline points="{" ".join(segment)}" {dotted}/>')
            segment = []
        else:
            segment.append(f"{x(p[0]):.1f},{y(p[1], sc.value):.1f}")
    threshold = r.thresholds[0] if r.thresholds else None
    if threshold is not None:
        ty = y(threshold, sc.value)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#c33" '
            f'stroke-dasharray="6,3"><title>threshold {threshold:g}</title></line>'
        )
    # Replicas, a step line (its points are the transitions only).
    end = x(steps[-1].time.timestamp() + step_s)
    line = [f"{x(steps[0].time.timestamp()):.1f},{y(steps[0].replicas_before, sc.replicas):.1f}"]
    for s in steps:
        if s.replicas != s.replicas_before:
            line.append(f"{x(s.time.timestamp()):.1f},{y(s.replicas_before, sc.replicas):.1f}")
            line.append(f"{x(s.time.timestamp()):.1f},{y(s.replicas, sc.replicas):.1f}")
    line.append(f"{end:.1f},{y(steps[-1].replicas, sc.replicas):.1f}")
    parts.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#1f5fbf" stroke-width="2"/>')
    parts.append(
        f'<text x="{left}" y="{top_pad - 8}">replicas (left, blue); value (right, dotted)'
        f"{'; threshold (red)' if threshold is not None else ''}; at zero blue, unhealthy red; UTC</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _transitions_table(r: Replay) -> str:
    moves = r.transitions()
    rows = [
        [s.time.strftime("%Y-%m-%d %H:%M:%S"), f"{s.replicas_before} → {s.replicas}", s.reason]
        for s in moves[:MAX_ROWS]
    ]
    if len(moves) > MAX_ROWS:
        rows.append(
            [f"… and {len(moves) - MAX_ROWS} more", "", "(to_pandas() or transitions() has them all)"]
        )
    return html_table("transitions", ["time", "replicas", "reason"], rows)
