//! A replay of one service: its spec (with the overrides) and its target's count read from the
//! cluster, its triggers' history asked window by window, then the steps simulated. It sends
//! GET requests only: to the service, the target's scale and metadata, and the triggers' data
//! sources.

use std::time::Duration;

use crate::core::elasti::controller::Controller;
use crate::core::elasti::decision::restore;
use crate::core::elasti::replay::measured::measured_wake_up;
use crate::core::elasti::replay::options::{Overrides, ReplayOptions};
use crate::core::elasti::replay::recommend::{Budget, CooldownPoint, DEFAULT_CANDIDATES, Recommendation, recommend};
use crate::core::elasti::replay::result::{ColdStartCost, Replay, Summary};
use crate::core::elasti::replay::simulate::{Start, simulate};
use crate::core::elasti::resource::ElastiServiceSpec;
use crate::core::elasti::scalers::history::{Sample, StepRange};
use crate::core::error::{Error, Result};
use crate::core::scale::wait::Progress;
use crate::core::target::TargetRef;

/// Steps asked of the triggers per request (Prometheus answers at most 11,000 per query).
const WINDOW: usize = 1_000;

/// A trigger's `threshold`, where its metadata has a number there (for plots).
fn threshold(metadata: Option<&serde_json::Value>) -> Option<f64> {
    match metadata?.get("threshold")? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// How a cooldown sweep runs: the candidates and the user's budget (what a cold start costs is
/// the replay's [`ColdStartCost`](crate::core::elasti::replay::result::ColdStartCost)).
#[derive(Debug, Clone, Default)]
pub struct Sweep {
    /// The cooldowns to try (default [`DEFAULT_CANDIDATES`]).
    pub candidates: Option<Vec<Duration>>,
    /// What the user will accept.
    pub budget: Budget,
}

/// A replay's inputs, read once (see `Controller::prepare`).
struct Prepared {
    namespace: String,
    target: String,
    /// The spec as stored.
    stored: ElastiServiceSpec,
    /// The spec with the overrides.
    spec: ElastiServiceSpec,
    range: StepRange,
    start: Start,
    samples: Vec<Vec<Sample>>,
    baseline: i32,
    /// What a cold start costs (the measured wake-up, when asked for, filled in).
    cost: ColdStartCost,
}

impl Controller {
    /// What the loop would have done for the ElastiService `name` over `opts`' range, from
    /// its triggers' history, starting from its target's current count; writes nothing.
    ///
    /// Each step is decided by the pass's own decision path. The service counts as created
    /// at the range's start when it was created later (so the rule "created less than one
    /// cooldown ago" applies from there); a stored `lastScaledUpTime` counts only when it is
    /// before the range. `progress(done, total)` is called as the steps' history arrives.
    pub async fn replay(
        &self,
        name: &str,
        namespace: Option<&str>,
        opts: ReplayOptions,
        progress: Option<Progress>,
    ) -> Result<Replay> {
        let h = self.prepare(name, namespace, &opts, progress).await?;
        let steps = simulate(&h.spec, h.range, h.start, &h.samples, h.cost).await?;
        Ok(Replay {
            namespace: h.namespace,
            name: name.to_string(),
            target: h.target,
            step: h.range.step,
            cooldown: h.spec.cooldown(),
            trigger_types: h.spec.triggers.iter().map(|t| t.type_.clone()).collect(),
            thresholds: h.spec.triggers.iter().map(|t| threshold(t.metadata.as_ref())).collect(),
            summary: Summary::of(&steps, h.range.step, h.baseline),
            steps,
        })
    }

    /// The cooldown to give the ElastiService `name`, from its triggers' history over `opts`'
    /// range (read once), replayed once per candidate (default [`DEFAULT_CANDIDATES`]): within
    /// `budget`, the one that saves the most replica-hours; with no budget, the knee of the
    /// curve (see `recommend.rs`). A cold start costs its request `opts.cost` (or the measured
    /// wake-up, see [`ReplayOptions::measured_wake_up`]). Writes nothing.
    ///
    /// Raises:
    ///     As [`replay`](Self::replay); [`Error::InvalidValue`] for a candidate that is not a
    ///     whole number of seconds up to a week, or no candidate.
    pub async fn recommend_cooldown(
        &self,
        name: &str,
        namespace: Option<&str>,
        opts: ReplayOptions,
        sweep: Sweep,
        progress: Option<Progress>,
    ) -> Result<Recommendation> {
        let candidates = sweep.candidates.unwrap_or_else(|| DEFAULT_CANDIDATES.to_vec());
        if candidates.is_empty() {
            return Err(Error::InvalidValue { field: "candidates", problem: "no cooldown to try".into() });
        }
        let h = self.prepare(name, namespace, &opts, progress).await?;
        let span = h.range.step * u32::try_from(h.range.count).unwrap_or(u32::MAX);
        let mut points = Vec::with_capacity(candidates.len());
        for cooldown in &candidates {
            let spec = Overrides { cooldown: Some(*cooldown), ..opts.overrides.clone() }.apply(&h.stored)?;
            let steps = simulate(&spec, h.range, h.start, &h.samples, h.cost).await?;
            let summary = Summary::of(&steps, h.range.step, h.baseline);
            points.push(CooldownPoint::of(*cooldown, &summary, span));
        }
        Ok(recommend(points, &sweep.budget))
    }

    /// What a replay needs before it simulates: the service's spec (with the overrides), its
    /// target's count, the range, and the triggers' history.
    async fn prepare(
        &self,
        name: &str,
        namespace: Option<&str>,
        opts: &ReplayOptions,
        progress: Option<Progress>,
    ) -> Result<Prepared> {
        self.check_open()?;
        let (ns, es) = self.service_named(name, namespace).await?;
        let spec = opts.overrides.apply(&es.spec)?;
        if spec.triggers.is_empty() {
            return Err(Error::InvalidValue {
                field: "spec.triggers",
                problem: "the ElastiService has no triggers".into(),
            });
        }
        let range = StepRange::new(opts.start, opts.end, opts.step)?;
        let target_ref = &spec.scale_target_ref;
        let target = TargetRef::from_parts(&target_ref.api_version, target_ref.normalized_kind(), &target_ref.name)?;
        let (target, replicas, remembered) = self.handler.count_and_remembered(&target, Some(&ns)).await?;
        let created = es.metadata.creation_timestamp.as_ref().map(|t| t.0).unwrap_or(range.start);
        let stored_up = es.status.as_ref().and_then(|s| s.last_scaled_up_time.as_ref()).map(|t| t.0);
        let start = Start {
            replicas,
            remembered,
            last_up: stored_up.filter(|t| *t <= range.start),
            created: created.min(range.start),
        };
        let service = format!("{ns}/{name}");
        // One query, before the history is read: a range without a measured wake-up fails fast.
        let mut cost = opts.cost;
        if opts.measured_wake_up {
            cost.wake_up = measured_wake_up(&spec, &service, opts.start, opts.end).await?;
        }
        let samples = self.history(&service, &spec, spec.cooldown(), range, progress).await?;
        let baseline =
            restore(spec.min_target_replicas).desired(0, if replicas > 0 { Some(replicas) } else { remembered });
        Ok(Prepared { namespace: ns, target, stored: es.spec, spec, range, start, samples, baseline, cost })
    }

    /// Every trigger's samples over `range` (`[trigger][step]`), asked window by window, the
    /// triggers of a window at once.
    async fn history(
        &self,
        service: &str,
        spec: &ElastiServiceSpec,
        cooldown: Duration,
        range: StepRange,
        progress: Option<Progress>,
    ) -> Result<Vec<Vec<Sample>>> {
        let mut samples: Vec<Vec<Sample>> = vec![Vec::with_capacity(range.count); spec.triggers.len()];
        let total = i32::try_from(range.count).unwrap_or(i32::MAX);
        for first in (0..range.count).step_by(WINDOW) {
            let window =
                StepRange { start: range.time(first), step: range.step, count: WINDOW.min(range.count - first) };
            let asks = spec.triggers.iter().enumerate().map(|(i, t)| {
                let metadata = t.metadata.clone().unwrap_or(serde_json::Value::Object(Default::default()));
                let trigger = format!("{service}#{i}");
                async move {
                    let got = self.scalers.get(&t.type_)?.history(&trigger, metadata, cooldown, window).await?;
                    if got.len() != window.count {
                        return Err(Error::Trigger {
                            trigger: t.type_.clone(),
                            message: format!("history gave {} steps for {}", got.len(), window.count),
                        });
                    }
                    Ok(got)
                }
            });
            for (all, got) in samples.iter_mut().zip(futures::future::try_join_all(asks).await?) {
                all.extend(got);
            }
            if let Some(p) = &progress {
                p(i32::try_from(first + window.count).unwrap_or(i32::MAX), total);
            }
        }
        Ok(samples)
    }
}
