//! A replay of one service: its spec (with the overrides) and its target's count read from the
//! cluster, its triggers' history asked window by window, then the steps simulated. It sends
//! GET requests only: to the service, the target's scale and metadata, and the triggers' data
//! sources.

use std::time::Duration;

use crate::core::elasti::controller::Controller;
use crate::core::elasti::decision::restore;
use crate::core::elasti::replay::options::ReplayOptions;
use crate::core::elasti::replay::result::{Replay, Summary};
use crate::core::elasti::replay::simulate::{Start, simulate};
use crate::core::elasti::resource::ElastiServiceSpec;
use crate::core::elasti::scalers::history::{Sample, StepRange};
use crate::core::elasti::service_api::decode;
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
        self.check_open()?;
        crate::core::target::validate_name(&format!("elastiservice/{name}"), name)?;
        let ns = self.handler.namespace_for(namespace)?;
        let es = decode(&self.services_in(&ns).get(name).await?).map_err(|e| Error::InvalidValue {
            field: "spec",
            problem: format!("the ElastiService {ns}/{name} cannot be read: {e}"),
        })?;
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
        let cooldown = spec.cooldown();
        let created = es.metadata.creation_timestamp.as_ref().map(|t| t.0).unwrap_or(range.start);
        let stored_up = es.status.as_ref().and_then(|s| s.last_scaled_up_time.as_ref()).map(|t| t.0);
        let start = Start {
            replicas,
            remembered,
            last_up: stored_up.filter(|t| *t <= range.start),
            created: created.min(range.start),
        };
        let samples = self.history(&format!("{ns}/{name}"), &spec, cooldown, range, progress).await?;
        let steps = simulate(&spec, range, start, &samples).await?;
        let up = restore(spec.min_target_replicas);
        let baseline = up.desired(0, if replicas > 0 { Some(replicas) } else { remembered });
        Ok(Replay {
            namespace: ns,
            name: name.to_string(),
            target,
            step: range.step,
            cooldown,
            trigger_types: spec.triggers.iter().map(|t| t.type_.clone()).collect(),
            thresholds: spec.triggers.iter().map(|t| threshold(t.metadata.as_ref())).collect(),
            summary: Summary::of(&steps, range.step, baseline),
            steps,
        })
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
