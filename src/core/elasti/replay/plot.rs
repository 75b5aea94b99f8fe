//! A replay as an SVG image (no plotting library needed): the replicas over time as a step line
//! on the left axis, the first trigger's value dotted on the right one with its threshold
//! dashed, the stretches at zero and the steps with an unhealthy trigger shaded, time below.

use std::fmt::Write;

use jiff::Timestamp;

use crate::core::elasti::decision::Answer;
use crate::core::elasti::replay::present::{general, utc};
use crate::core::elasti::replay::result::{Replay, ReplayStep};

/// Above this many steps the value's line is drawn from buckets, each its highest value, so a
/// week at one-minute steps stays a light image.
pub const MAX_POINTS: usize = 1500;

/// A shaded band: the steps it covers, its colour and its tooltip.
type Band<'a> = (&'a dyn Fn(&ReplayStep) -> bool, &'a str, &'a str);

/// Margins around the plot's area: left, right, top, bottom (pixels).
const MARGINS: (f64, f64, f64, f64) = (42.0, 48.0, 24.0, 34.0);

/// What a plot's axes span: time (seconds since the epoch), replicas and the trigger's value.
/// Replays compared side by side share one, so that they compare by eye.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotScales {
    /// The first step's time.
    pub t0: f64,
    /// The end of the last step.
    pub t1: f64,
    /// The top of the replicas' axis (at least 1).
    pub replicas: f64,
    /// The top of the value's axis (the highest value or threshold).
    pub value: f64,
}

fn seconds(t: Timestamp) -> f64 {
    t.as_nanosecond() as f64 / 1e9
}

impl PlotScales {
    /// The axes that hold every step of `replays`; None when none has a step.
    pub fn of(replays: &[&Replay]) -> Option<PlotScales> {
        let stepped: Vec<&Replay> = replays.iter().copied().filter(|r| !r.steps.is_empty()).collect();
        let t0 = stepped.iter().map(|r| seconds(r.steps[0].time)).reduce(f64::min)?;
        let ends = stepped.iter().filter_map(|r| r.steps.last().map(|s| seconds(s.time) + r.step.as_secs_f64()));
        let t1 = ends.fold(t0 + 1.0, f64::max);
        let counts = stepped.iter().flat_map(|r| &r.steps).flat_map(|s| [s.replicas, s.replicas_before]);
        let values = stepped.iter().flat_map(|r| r.steps.iter().filter_map(ReplayStep::value).chain(r.threshold()));
        Some(PlotScales { t0, t1, replicas: f64::from(counts.fold(1, i32::max)), value: values.fold(1e-9, f64::max) })
    }
}

/// The four ticks' values of an axis from 0 to `top`, both included.
fn ticks(top: f64) -> impl Iterator<Item = f64> {
    (0..=4).map(move |i| top * f64::from(i) / 4.0)
}

/// `r` as an SVG image of `width` × `height` pixels, on `scales` (its own when None).
pub fn replay_svg(r: &Replay, width: u32, height: u32, scales: Option<PlotScales>) -> String {
    let empty = format!(r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"></svg>"#);
    let (Some(first), Some(last)) = (r.steps.first(), r.steps.last()) else { return empty };
    let Some(sc) = scales.or_else(|| PlotScales::of(&[r])) else { return empty };
    let (left, right, top, bottom) = MARGINS;
    let (plot_w, plot_h) = (f64::from(width) - left - right, f64::from(height) - top - bottom);
    let x = |t: f64| left + (t - sc.t0) / (sc.t1 - sc.t0) * plot_w;
    let y = |v: f64, most: f64| top + plot_h - v / most * plot_h;
    let step = r.step.as_secs_f64();
    let mut out =
        format!(r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">"#);

    // Bands: the stretches at zero, then the steps with an unhealthy trigger.
    let at_zero = |s: &ReplayStep| s.replicas == 0;
    let unhealthy = |s: &ReplayStep| s.answer == Some(Answer::Unhealthy);
    let bands: [Band<'_>; 2] =
        [(&at_zero, "#d0e4ff", "at zero"), (&unhealthy, "#ffd6d6", "a trigger was unhealthy: no scaling")];
    for (test, fill, title) in bands {
        for run in r.steps.chunk_by(|a, b| test(a) == test(b)).filter(|run| test(&run[0])) {
            let a = x(seconds(run[0].time));
            let b = x(seconds(run[run.len() - 1].time) + step);
            let _ = write!(
                out,
                r#"<rect x="{a:.1}" y="{top}" width="{:.1}" height="{plot_h}" fill="{fill}"><title>{title}</title></rect>"#,
                b - a
            );
        }
    }

    // Axes: replicas on the left, the value on the right, time below.
    let (x_end, y_end) = (left + plot_w, top + plot_h);
    let axis = r##"stroke="#999" stroke-width="1""##;
    for (x1, x2, y1, y2) in [(left, left, top, y_end), (x_end, x_end, top, y_end), (left, x_end, y_end, y_end)] {
        let _ = write!(out, r#"<line x1="{x1}" x2="{x2}" y1="{y1}" y2="{y2}" {axis}/>"#);
    }
    let mut counts: Vec<i64> = ticks(sc.replicas).map(|t| t.round_ties_even() as i64).collect();
    counts.dedup();
    for n in counts {
        let ny = y(n as f64, sc.replicas) + 4.0;
        let _ = write!(out, r##"<text x="{}" y="{ny:.1}" text-anchor="end" fill="#1f5fbf">{n}</text>"##, left - 4.0);
    }
    for v in ticks(sc.value) {
        let vy = y(v, sc.value) + 4.0;
        let _ = write!(out, r##"<text x="{}" y="{vy:.1}" fill="#666">{}</text>"##, x_end + 4.0, general(v, 3));
    }
    let span = sc.t1 - sc.t0;
    let format = if span <= 86_400.0 { "%H:%M" } else { "%m-%d %H:%M" };
    for k in 0..6 {
        let t = sc.t0 + span * f64::from(k) / 5.0;
        let anchor = match k {
            0 => "start",
            5 => "end",
            _ => "middle",
        };
        let label = Timestamp::from_nanosecond((t * 1e9) as i128).map(|t| utc(t, format)).unwrap_or_default();
        let ty = f64::from(height) - bottom + 16.0;
        let _ = write!(out, r#"<text x="{:.1}" y="{ty}" text-anchor="{anchor}">{label}</text>"#, x(t));
    }

    // The trigger's value, dotted, broken where a step has none; bucketed above MAX_POINTS.
    let per = r.steps.len().div_ceil(MAX_POINTS).max(1);
    let points = r.steps.chunks(per).map(|bucket| {
        let most = bucket.iter().filter_map(ReplayStep::value).reduce(f64::max);
        most.map(|v| format!("{:.1},{:.1}", x(seconds(bucket[0].time)), y(v, sc.value)))
    });
    let mut segment: Vec<String> = Vec::new();
    for p in points.chain([None]) {
        match p {
            Some(p) => segment.push(p),
            None if !segment.is_empty() => {
                let dotted = r##"fill="none" stroke="#888" stroke-dasharray="2,2""##;
                let _ = write!(out, r#"<polyline points="{}" {dotted}/>"#, segment.join(" "));
                segment.clear();
            }
            None => {}
        }
    }
    if let Some(threshold) = r.threshold() {
        let ty = y(threshold, sc.value);
        let _ = write!(
            out,
            r##"<line x1="{left}" x2="{x_end}" y1="{ty:.1}" y2="{ty:.1}" stroke="#c33" stroke-dasharray="6,3"><title>threshold {}</title></line>"##,
            general(threshold, 6)
        );
    }

    // Replicas, a step line (its points are the transitions only).
    let at = |t: Timestamp, n: i32| format!("{:.1},{:.1}", x(seconds(t)), y(f64::from(n), sc.replicas));
    let mut line = vec![at(first.time, first.replicas_before)];
    for s in r.steps.iter().filter(|s| s.moved()) {
        line.push(at(s.time, s.replicas_before));
        line.push(at(s.time, s.replicas));
    }
    let end = x(seconds(last.time) + step);
    line.push(format!("{end:.1},{:.1}", y(f64::from(last.replicas), sc.replicas)));
    let _ = write!(out, r##"<polyline points="{}" fill="none" stroke="#1f5fbf" stroke-width="2"/>"##, line.join(" "));
    let threshold = if r.threshold().is_some() { "; threshold (red)" } else { "" };
    let _ = write!(
        out,
        r#"<text x="{left}" y="{}">replicas (left, blue); value (right, dotted){threshold}; at zero blue, unhealthy red; UTC</text>"#,
        top - 8.0
    );
    out + "</svg>"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay() -> Replay {
        let values = [Some(1.0), Some(0.2), Some(0.1), Some(0.0), None, Some(0.9), Some(1.2)];
        Replay::example(&[2, 2, 0, 0, 0, 2, 2], &values, 60)
    }

    #[test]
    fn the_plot_shades_zero_and_breaks_the_value_line_without_data() {
        let svg = replay_svg(&replay(), 700, 200, None);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<title>at zero</title>").count(), 1, "{svg}");
        // The value's line is cut at the step without a sample: two dotted segments.
        assert_eq!(svg.matches(r#"stroke-dasharray="2,2""#).count(), 2, "{svg}");
        assert!(svg.contains("threshold 0.5"), "{svg}");
        // The step without a sample is unhealthy: one red band.
        assert_eq!(svg.matches("a trigger was unhealthy").count(), 1, "{svg}");
    }

    #[test]
    fn the_axes_are_labelled() {
        let svg = replay_svg(&replay(), 720, 220, None);
        // Right axis: the value from 0 to its highest (1.2) in 4 steps; left: 0 to 2 replicas.
        for label in ["0", "0.3", "0.6", "0.9", "1.2"] {
            assert!(svg.contains(&format!(r##"fill="#666">{label}</text>"##)), "{label}: {svg}");
        }
        assert!(svg.contains(r##"fill="#1f5fbf">2</text>"##), "{svg}");
        // Six time ticks, HH:MM within a day: 22:13 to 22:20.
        assert_eq!(svg.matches(r#"">22:"#).count(), 6, "{svg}");
        // The replicas' step line: from 2, down at the third step, up at the sixth, to the end.
        assert!(
            svg.contains(r#"<polyline points="42.0,24.0 222.0,24.0 222.0,186.0 492.0,186.0 492.0,24.0 672.0,24.0""#),
            "{svg}"
        );
    }

    #[test]
    fn an_empty_replay_is_an_empty_image() {
        let r = Replay::example(&[], &[], 60);
        assert_eq!(replay_svg(&r, 10, 10, None).matches('<').count(), 2);
    }

    #[test]
    fn a_week_at_one_minute_steps_is_a_light_image() {
        let n = 7 * 24 * 60;
        let values: Vec<Option<f64>> = (0..n).map(|i| Some(f64::from(i % 97))).collect();
        let replicas: Vec<i32> = values.iter().map(|v| if v.unwrap() > 0.5 { 2 } else { 0 }).collect();
        let svg = replay_svg(&Replay::example(&replicas, &values, 60), 720, 220, None);
        let dotted: usize = svg
            .split("<polyline points=\"")
            .skip(1)
            .filter(|p| p.contains(r##"stroke="#888""##))
            .map(|p| p.split('"').next().unwrap().split(' ').count())
            .sum();
        assert!(dotted <= MAX_POINTS, "{dotted}");
        assert!(svg.len() < 400_000, "{}", svg.len());
    }

    #[test]
    fn replays_side_by_side_share_their_axes() {
        let a = replay();
        let b = Replay::example(&[5, 5], &[Some(3.0), Some(3.0)], 60);
        let both = PlotScales::of(&[&a, &b]).unwrap();
        assert_eq!((both.replicas, both.value), (5.0, 3.0));
        assert_eq!(both.t1 - both.t0, 7.0 * 60.0);
        assert_eq!(PlotScales::of(&[]), None);
    }
}
