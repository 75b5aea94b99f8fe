//! A replay's outcome: every step, and a summary a user reads first.

use std::time::Duration;

use jiff::Timestamp;

use crate::core::elasti::decision::{Answer, Direction};
use crate::core::elasti::scalers::history::Sample;

/// Serialises a duration as seconds (a replay's fields reach Python as numbers).
pub(crate) fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Serialises a duration, if any, as seconds.
pub(crate) fn optional_seconds<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// Serialises a time as seconds since the Unix epoch.
fn unix_seconds<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(t.as_nanosecond() as f64 / 1e9)
}

/// One step of a replay: what the triggers said, what the loop decided, and the count the
/// target had after it. (Serialised with times and durations in seconds, as every replay type.)
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReplayStep {
    /// The step's time.
    #[serde(serialize_with = "unix_seconds")]
    pub time: Timestamp,
    /// Each trigger's answer at this step, in the service's order.
    pub triggers: Vec<Sample>,
    /// The triggers' answer as the pass asks it (first unhealthy or wanting up, else allowing
    /// zero); `None` when an earlier rule decided and the triggers were not asked.
    pub answer: Option<Answer>,
    /// What the loop decided.
    pub direction: Direction,
    /// Why.
    pub reason: String,
    /// The target's count before the step.
    pub replicas_before: i32,
    /// The target's count after the step.
    pub replicas: i32,
    /// A trigger wanted the target up while it was at zero: a request arrived at zero and
    /// waited for a cold start.
    pub cold_start: bool,
    /// How long that request would have waited (see [`ColdStartCost`]); zero without a cold
    /// start.
    #[serde(serialize_with = "seconds")]
    pub wait: Duration,
}

impl ReplayStep {
    /// The first trigger's value, where it has one (what a plot draws).
    pub fn value(&self) -> Option<f64> {
        self.triggers.first().and_then(|t| t.value)
    }

    /// Whether the step changed the target's count.
    pub fn moved(&self) -> bool {
        self.replicas != self.replicas_before
    }
}

/// What a cold start costs a request: at most a polling interval until a pass sees the
/// traffic, then the target's wake-up (the time from the scale-up to its first ready replica).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColdStartCost {
    /// The loop's polling interval.
    pub polling_interval: Duration,
    /// The target's wake-up time.
    pub wake_up: Duration,
}

impl ColdStartCost {
    /// The longest a request that finds the target at zero waits.
    pub fn wait(&self) -> Duration {
        self.polling_interval + self.wake_up
    }
}

/// The numbers of a replay.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Steps replayed.
    pub steps: usize,
    /// The count the target runs at when the loop leaves it (the target's count at the start,
    /// or the remembered one when it started at zero; at least `minTargetReplicas` and 1).
    pub baseline_replicas: i32,
    /// Time the target spent at zero (steps at zero × step).
    #[serde(serialize_with = "seconds")]
    pub time_at_zero: Duration,
    /// `time_at_zero` over the whole range.
    pub fraction_at_zero: f64,
    /// Σ (baseline − count) × step, in replica-hours: what scale-to-zero saved against running
    /// the baseline throughout.
    pub replica_hours_saved: f64,
    /// Steps that took the target to zero.
    pub scale_downs: usize,
    /// Steps that brought it back from zero.
    pub scale_ups: usize,
    /// Steps where traffic found the target at zero.
    pub cold_starts: usize,
    /// The longest stretch at zero.
    #[serde(serialize_with = "seconds")]
    pub longest_at_zero: Duration,
    /// What the cold starts cost the requests that waited, in all.
    #[serde(serialize_with = "seconds")]
    pub cold_start_wait: Duration,
    /// The longest one of them waited.
    #[serde(serialize_with = "seconds")]
    pub worst_wait: Duration,
}

impl Summary {
    /// The summary of `steps`, `step` apart, against `baseline_replicas`.
    pub fn of(steps: &[ReplayStep], step: Duration, baseline_replicas: i32) -> Self {
        let at_zero = steps.iter().filter(|s| s.replicas == 0).count();
        let mut longest = 0usize;
        let mut run = 0usize;
        for s in steps {
            run = if s.replicas == 0 { run + 1 } else { 0 };
            longest = longest.max(run);
        }
        let hours = step.as_secs_f64() / 3600.0;
        let saved: f64 = steps.iter().map(|s| f64::from(baseline_replicas - s.replicas) * hours).sum();
        Summary {
            steps: steps.len(),
            baseline_replicas,
            time_at_zero: step * at_zero as u32,
            fraction_at_zero: if steps.is_empty() { 0.0 } else { at_zero as f64 / steps.len() as f64 },
            replica_hours_saved: saved,
            scale_downs: steps.iter().filter(|s| s.replicas_before > 0 && s.replicas == 0).count(),
            scale_ups: steps.iter().filter(|s| s.replicas_before == 0 && s.replicas > 0).count(),
            cold_starts: steps.iter().filter(|s| s.cold_start).count(),
            longest_at_zero: step * longest as u32,
            cold_start_wait: steps.iter().map(|s| s.wait).sum(),
            worst_wait: steps.iter().map(|s| s.wait).max().unwrap_or_default(),
        }
    }
}

/// What the loop would have done for one service over a range of time.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Replay {
    /// The service's namespace.
    pub namespace: String,
    /// The service's name.
    pub name: String,
    /// The target, as `TYPE/NAME`.
    pub target: String,
    /// The time between steps.
    #[serde(serialize_with = "seconds")]
    pub step: Duration,
    /// The cooldown the replay used (after overrides and the 0 → 900 s rule).
    #[serde(serialize_with = "seconds")]
    pub cooldown: Duration,
    /// Each trigger's type, in order.
    pub trigger_types: Vec<String>,
    /// Each trigger's `threshold`, where its metadata has a number there.
    pub thresholds: Vec<Option<f64>>,
    /// Every step, in time order.
    pub steps: Vec<ReplayStep>,
    /// The numbers.
    pub summary: Summary,
}

impl Replay {
    /// A replay built by hand, for tests and examples that need no cluster: one step per count
    /// in `replicas`, `step` seconds apart from 2023-11-14 22:13:20 UTC, each with one trigger
    /// whose value is beside it in `values` (None: no sample, unhealthy; below 0.5 allows zero,
    /// else wants the target up); threshold 0.5, cooldown 300 s, baseline 2 replicas.
    pub fn example(replicas: &[i32], values: &[Option<f64>], step: u64) -> Replay {
        let t0 = Timestamp::from_second(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let mut before = replicas.first().copied().unwrap_or(0);
        let steps: Vec<ReplayStep> = replicas
            .iter()
            .zip(values)
            .enumerate()
            .map(|(i, (&n, &value))| {
                let answer = match value {
                    None => Answer::Unhealthy,
                    Some(v) if v < 0.5 => Answer::AllowsZero,
                    Some(_) => Answer::WantsUp,
                };
                let note = value.is_none().then(|| "no sample".to_string());
                let direction = match n.cmp(&before) {
                    std::cmp::Ordering::Less => Direction::ScaleDown,
                    std::cmp::Ordering::Greater => Direction::ScaleUp,
                    std::cmp::Ordering::Equal => Direction::NoScale,
                };
                let s = ReplayStep {
                    time: t0 + Duration::from_secs(step * i as u64),
                    triggers: vec![Sample { answer, value, note }],
                    answer: Some(answer),
                    direction,
                    reason: "example".into(),
                    replicas_before: before,
                    replicas: n,
                    cold_start: before == 0 && n > 0,
                    wait: Duration::ZERO,
                };
                before = n;
                s
            })
            .collect();
        let step = Duration::from_secs(step);
        Replay {
            namespace: "dev".into(),
            name: "web".into(),
            target: "Deployment/web".into(),
            step,
            cooldown: Duration::from_secs(300),
            trigger_types: vec!["prometheus".into()],
            thresholds: vec![Some(0.5)],
            summary: Summary::of(&steps, step, 2),
            steps,
        }
    }

    /// The first trigger's threshold, where it has one.
    pub fn threshold(&self) -> Option<f64> {
        self.thresholds.first().copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(before: i32, after: i32, cold: bool) -> ReplayStep {
        ReplayStep {
            time: Timestamp::UNIX_EPOCH,
            triggers: Vec::new(),
            answer: None,
            direction: Direction::NoScale,
            reason: String::new(),
            replicas_before: before,
            replicas: after,
            cold_start: cold,
            wait: if cold { Duration::from_secs(40) } else { Duration::ZERO },
        }
    }

    #[test]
    fn summary_counts_by_hand() {
        let steps = [step(2, 2, false), step(2, 0, false), step(0, 0, false), step(0, 2, true), step(2, 0, false)];
        let s = Summary::of(&steps, Duration::from_secs(1800), 2);
        assert_eq!(s.steps, 5);
        assert_eq!(s.time_at_zero, Duration::from_secs(3 * 1800));
        assert!((s.fraction_at_zero - 0.6).abs() < 1e-9);
        // Three half-hours at 0 instead of 2: 3 replica-hours.
        assert!((s.replica_hours_saved - 3.0).abs() < 1e-9);
        assert_eq!((s.scale_downs, s.scale_ups, s.cold_starts), (2, 1, 1));
        assert_eq!(s.longest_at_zero, Duration::from_secs(3600));
        assert_eq!((s.cold_start_wait, s.worst_wait), (Duration::from_secs(40), Duration::from_secs(40)));
    }
}
