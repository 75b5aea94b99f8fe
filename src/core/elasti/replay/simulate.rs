//! The steps of a replay: at each one, the pass's own decision ([`decide_service`]) over the
//! triggers' answers from history, and the pass's own intents ([`Direction::intent`],
//! [`Intent`]) applied to the count the target would have had; each cold start costs its request
//! a [`ColdStartCost`]. Nothing here does I/O.

use std::time::Duration;

use jiff::Timestamp;

use crate::core::elasti::decision::{Answer, Direction, decide_service};
use crate::core::elasti::replay::result::{ColdStartCost, ReplayStep};
use crate::core::elasti::resource::ElastiServiceSpec;
use crate::core::elasti::scalers::history::{Sample, StepRange};
use crate::core::error::Result;

/// Where a replay starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Start {
    /// The target's count.
    pub replicas: i32,
    /// The count remembered for a return from zero (`kubescale.io/previous-replicas`).
    pub remembered: Option<i32>,
    /// The last tick that decided up, if it is known and before the range.
    pub last_up: Option<Timestamp>,
    /// When the service counts as created (for the rule "created less than one cooldown ago").
    pub created: Timestamp,
}

/// The service's answer at one step, asked as the pass asks (in order: the first trigger not
/// allowing zero decides).
fn service_answer(samples: &[Vec<Sample>], i: usize) -> Answer {
    samples.iter().map(|t| t[i].answer).find(|a| *a != Answer::AllowsZero).unwrap_or(Answer::AllowsZero)
}

/// Every step of `range` for a service with `spec`, from `start`; `samples[t][i]` is trigger
/// `t`'s answer at step `i`.
pub(crate) async fn simulate(
    spec: &ElastiServiceSpec,
    range: StepRange,
    start: Start,
    samples: &[Vec<Sample>],
    cost: ColdStartCost,
) -> Result<Vec<ReplayStep>> {
    let cooldown = spec.cooldown();
    let Start { mut replicas, mut remembered, mut last_up, created } = start;
    let mut steps = Vec::with_capacity(range.count);
    for i in 0..range.count {
        let now = range.time(i);
        let mut asked = None;
        let ask = || {
            let answer = service_answer(samples, i);
            asked = Some(answer);
            std::future::ready(Ok(answer))
        };
        let verdict = decide_service(spec, cooldown, created, last_up, now, ask).await?;
        let before = replicas;
        if let Some(intent) = verdict.direction.intent(spec) {
            let desired = intent.desired(replicas, remembered);
            if intent.satisfied(replicas, desired).is_none() {
                if intent.remembers() {
                    remembered = Some(replicas);
                }
                replicas = desired;
            }
        }
        if verdict.direction == Direction::ScaleUp {
            last_up = Some(now);
        }
        steps.push(ReplayStep {
            time: now,
            triggers: samples.iter().map(|t| t[i].clone()).collect(),
            answer: asked,
            direction: verdict.direction,
            reason: verdict.reason,
            replicas_before: before,
            replicas,
            cold_start: before == 0 && asked == Some(Answer::WantsUp),
            wait: if before == 0 && asked == Some(Answer::WantsUp) { cost.wait() } else { Duration::ZERO },
        });
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn spec(extra: serde_json::Value) -> ElastiServiceSpec {
        let mut v = serde_json::json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "service": "web",
            "cooldownPeriod": 120,
            "triggers": [{"type": "prometheus"}],
        });
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    fn answers(s: &str) -> Vec<Vec<Sample>> {
        let one = |c| match c {
            'z' => Sample { answer: Answer::AllowsZero, value: Some(0.0), note: None },
            'u' => Sample { answer: Answer::WantsUp, value: Some(5.0), note: None },
            _ => Sample::unhealthy("no sample"),
        };
        vec![s.chars().map(one).collect()]
    }

    async fn run(spec: &ElastiServiceSpec, s: &str, start: Start) -> Vec<i32> {
        let t0 = at("2026-12-01T00:00:00Z");
        let range = StepRange::new(t0, range_end(t0, s.len()), Duration::from_secs(60)).unwrap();
        simulate(spec, range, start, &answers(s), ColdStartCost::default())
            .await
            .unwrap()
            .iter()
            .map(|s| s.replicas)
            .collect()
    }

    fn range_end(t0: Timestamp, n: usize) -> Timestamp {
        t0.checked_add(jiff::SignedDuration::from_secs(60 * (n as i64 - 1))).unwrap()
    }

    fn start(replicas: i32) -> Start {
        Start { replicas, remembered: None, last_up: None, created: at("2026-11-01T00:00:00Z") }
    }

    #[tokio::test]
    async fn idle_goes_to_zero_and_traffic_restores_the_count() {
        let s = spec(serde_json::json!({}));
        // Up at 0:00 (last up), idle from 0:01: zero once a cooldown (2 min) has passed since the
        // last scale-up; back to 3 (remembered) on traffic.
        assert_eq!(run(&s, "uzzzzuz", start(3)).await, [3, 3, 0, 0, 0, 3, 3]);
        // Unhealthy steps hold the count, whichever it is.
        assert_eq!(run(&s, "zz??zu", start(3)).await, [0, 0, 0, 0, 0, 3]);
    }

    #[tokio::test]
    async fn min_target_replicas_and_the_period_apply() {
        let s = spec(serde_json::json!({"minTargetReplicas": 5}));
        assert_eq!(run(&s, "zu", start(2)).await, [0, 5]);
        // An enabled period that never covers the range: never to zero, raised to the minimum.
        let s = spec(serde_json::json!({"enabledPeriod": {"schedule": "0 12 * * *", "duration": "1m"}}));
        assert_eq!(run(&s, "zzz", start(0)).await, [1, 1, 1]);
    }

    #[tokio::test]
    async fn a_young_service_is_left_alone() {
        let s = spec(serde_json::json!({}));
        let young = Start { created: at("2026-12-01T00:00:00Z"), ..start(3) };
        assert_eq!(run(&s, "zzzz", young).await, [3, 3, 0, 0]);
    }
}
