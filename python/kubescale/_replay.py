"""The result of ``ScaleHandler.replay``: every step, a summary, and how a notebook shows them.

The numbers are computed by the core; this module only holds and presents them: a summary and
the transitions as HTML tables, an SVG plot (no plotting library needed), a pandas DataFrame
when pandas is installed, and two replays side by side.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Optional

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
    """

    time: datetime
    triggers: tuple[TriggerSample, ...]
    answer: Optional[Answer]
    direction: str
    reason: str
    replicas_before: int
    replicas: int
    cold_start: bool

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

    def to_dict(self) -> dict[str, Any]:
        """Every field (durations in seconds).

        Returns:
            dict[str, Any]
        """
        d = asdict(self)
        d["time_at_zero"] = self.time_at_zero.total_seconds()
        d["longest_at_zero"] = self.longest_at_zero.total_seconds()
        return d

    def _rows(self) -> list[tuple[str, str]]:
        return [
            ("time at zero", f"{_span(self.time_at_zero)} ({self.fraction_at_zero:.0%})"),
            ("replica-hours saved", f"{self.replica_hours_saved:.1f} (against {self.baseline_replicas})"),
            ("scale-downs", str(self.scale_downs)),
            ("scale-ups", str(self.scale_ups)),
            ("cold starts", str(self.cold_starts)),
            ("longest at zero", _span(self.longest_at_zero)),
            ("steps", str(self.steps)),
        ]


_NAMES = {Answer.UNHEALTHY: "unhealthy", Answer.WANTS_UP: "wants_up", Answer.ALLOWS_ZERO: "allows_zero"}


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
                triggers=tuple(TriggerSample(*t) for t in s["triggers"]),
                answer=s["answer"],
                direction=s["direction"],
                reason=s["reason"],
                replicas_before=s["replicas_before"],
                replicas=s["replicas"],
                cold_start=s["cold_start"],
            )
            for s in d["steps"]
        )
        m = d["summary"]
        summary = ReplaySummary(
            **{
                **m,
                "time_at_zero": timedelta(seconds=m["time_at_zero"]),
                "longest_at_zero": timedelta(seconds=m["longest_at_zero"]),
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
        """The replay as an SVG image: the replicas over time (a step line), the first
        trigger's value (dotted) with its threshold (dashed), periods at zero shaded.

        Returns:
            str: ``<svg ...>...</svg>``.
        """
        return _svg(self, width, height)

    def _repr_html_(self) -> str:
        caption = f"replay of {self.service} ({self.target}), {self.label}"
        summary = html_table(caption, ["", ""], [list(r) for r in self.summary._rows()])
        moves = [
            [s.time.strftime("%Y-%m-%d %H:%M:%S"), f"{s.replicas_before} → {s.replicas}", s.reason]
            for s in self.transitions()
        ]
        table = html_table("transitions", ["time", "replicas", "reason"], moves)
        return f"<div>{summary}{self.plot_svg()}{table}</div>"

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
        return f"<div>{table}{self.left.plot_svg()}{self.right.plot_svg()}</div>"


def _svg(r: Replay, width: int, height: int) -> str:
    """The plot of ``Replay.plot_svg``."""
    pad = 30
    steps = r.steps
    if not steps:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"></svg>'
    t0 = steps[0].time.timestamp()
    span = max(steps[-1].time.timestamp() - t0 + r.step.total_seconds(), 1.0)

    def x(t: datetime) -> float:
        return pad + (t.timestamp() - t0) / span * (width - 2 * pad)

    top = max(max(s.replicas for s in steps), max(s.replicas_before for s in steps), 1)

    def y(n: float, most: float) -> float:
        return height - pad - n / most * (height - 2 * pad)

    end_x = x(steps[-1].time + r.step)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">']
    # Periods at zero, shaded.
    i = 0
    while i < len(steps):
        if steps[i].replicas == 0:
            j = i
            while j + 1 < len(steps) and steps[j + 1].replicas == 0:
                j += 1
            right = x(steps[j + 1].time) if j + 1 < len(steps) else end_x
            parts.append(
                f'<rect x="{x(steps[i].time):.1f}" y="{pad}" width="{right - x(steps[i].time):.1f}" '
                f'height="{height - 2 * pad}" fill="#d0e4ff"><title>at zero</title></rect>'
            )
            i = j + 1
        else:
            i += 1
    # The trigger's value and threshold, on their own scale.
    values = [s.value for s in steps if s.value is not None]
    threshold = r.thresholds[0] if r.thresholds else None
    most = max(values + ([threshold] if threshold is not None else []) + [1e-9])
    path: list[str] = []
    for s in steps:
        if s.value is None:
            path.append("")
            continue
        path.append(f"{x(s.time):.1f},{y(s.value, most):.1f}")
    for segment in " ".join(path).split("  "):
        if segment.strip():
            parts.append(
                f'<polyline points="{segment.strip()}" fill="none" stroke="#888" stroke-dasharray="2,2"/>'
            )
    if threshold is not None:
        ty = y(threshold, most)
        parts.append(
            f'<line x1="{pad}" x2="{end_x:.1f}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#c33" '
            f'stroke-dasharray="6,3"><title>threshold {threshold:g}</title></line>'
        )
    # Replicas, a step line.
    points = [f"{x(steps[0].time):.1f},{y(steps[0].replicas_before, top):.1f}"]
    for s in steps:
        if s.replicas != s.replicas_before:
            points.append(f"{x(s.time):.1f},{y(s.replicas_before, top):.1f}")
            points.append(f"{x(s.time):.1f},{y(s.replicas, top):.1f}")
    points.append(f"{end_x:.1f},{y(steps[-1].replicas, top):.1f}")
    parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#1f5fbf" stroke-width="2"/>')
    first = html.escape(steps[0].time.strftime("%Y-%m-%d %H:%M"))
    last = html.escape(steps[-1].time.strftime("%Y-%m-%d %H:%M"))
    parts.append(f'<text x="{pad}" y="{height - 8}">{first}</text>')
    parts.append(f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">{last} UTC</text>')
    parts.append(
        f'<text x="{pad}" y="{pad - 8}">replicas (0 to {top}, blue); value (dotted)'
        f"{'; threshold (red)' if threshold is not None else ''}; at zero shaded</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
