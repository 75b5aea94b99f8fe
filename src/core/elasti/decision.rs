//! The scale-to-zero decision of one ElastiService: the table, as pure logic ([`decide`]), the
//! table fed with a service's facts at one moment ([`decide_service`], the one path of a live
//! pass and of a replay), and its outcome as a pass reports it ([`Decision`]).

use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;

use crate::core::elasti::enabled_period::EnabledPeriod;
use crate::core::elasti::resource::ElastiServiceSpec;
use crate::core::error::{Error, Result};
use crate::core::scale::intent::Intent;

/// Which way a service's target should go (serialised as [`Direction::as_str`] says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Bring the target up (to at least `minTargetReplicas`).
    ScaleUp,
    /// Take the target to zero.
    ScaleDown,
    /// Leave it.
    NoScale,
}

impl Direction {
    /// What this direction asks of a service's target: a scale-up brings it back from zero
    /// (see [`restore`]), a scale-down takes it to zero.
    pub(crate) fn intent(self, spec: &ElastiServiceSpec) -> Option<Intent> {
        match self {
            Direction::ScaleUp => Some(restore(spec.min_target_replicas)),
            Direction::ScaleDown => Some(Intent::ToZero),
            Direction::NoScale => None,
        }
    }

    /// `scale_up`, `scale_down` or `no_scale`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ScaleUp => "scale_up",
            Direction::ScaleDown => "scale_down",
            Direction::NoScale => "no_scale",
        }
    }
}

/// The outcome of one pass for one ElastiService.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    /// The service's namespace.
    pub namespace: String,
    /// The service's name.
    pub name: String,
    /// What was decided.
    pub direction: Direction,
    /// Why.
    pub reason: String,
    /// What went wrong, if anything (then nothing was scaled).
    pub error: Option<String>,
    /// What the pass did (or, in a dry run, would do): `scale deployment.apps/web 3 → 0`,
    /// `pause KEDA web-so`, `add finalizer kubescale.io/restore`.
    pub actions: Vec<String>,
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
    /// The service's shard, in a sharded run (`run` with `shards` > 1).
    pub shard: Option<u32>,
}

/// Bringing a held target back: to the count it had before it was held at zero, at least
/// `minTargetReplicas` and at least 1 (a scale-up, a released or deleted service).
pub(crate) fn restore(min_target_replicas: i32) -> Intent {
    Intent::FromZero { min: min_target_replicas.max(1), restore: true }
}

impl Decision {
    /// The decision regarding the ElastiService `meta` names.
    pub(crate) fn of(
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        direction: Direction,
        reason: &str,
        error: Option<String>,
        actions: Vec<String>,
        dry_run: bool,
    ) -> Decision {
        Decision {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            direction,
            reason: reason.to_string(),
            error,
            actions,
            dry_run,
            shard: None,
        }
    }
}

/// What a pass knows about a service when it decides; trigger answers are asked only when the
/// earlier rules did not settle it (`None` = not asked).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Number of triggers.
    pub triggers: usize,
    /// Time since the ElastiService was created.
    pub age: Duration,
    /// The service's cooldown.
    pub cooldown: Duration,
    /// Whether now is inside the enabled period (`None` = not yet known).
    pub enabled: Option<bool>,
    /// What the triggers say, asked in order (`None` = not yet asked).
    pub answer: Option<Answer>,
    /// Time since the last tick that decided to scale up, if known.
    pub since_last_up: Option<Duration>,
}

/// What the triggers say: one trigger's answer, and the answer of a service's triggers asked
/// in the reference's order (per trigger, health and then readiness for zero; the first
/// unhealthy trigger or the first that wants the target up ends it, else all allow zero).
/// Serialised as its Python name (`WANTS_UP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Answer {
    /// The trigger's data source cannot be trusted now.
    Unhealthy,
    /// The trigger wants the target up.
    WantsUp,
    /// The trigger allows zero (for a service: every trigger does).
    AllowsZero,
}

/// The next step of the decision: a result, or the fact it needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Decided, with the reason.
    Decided(Direction, &'static str),
    /// Ask whether now is in the enabled period.
    NeedEnabled,
    /// Ask the triggers, in order (see [`Answer`]).
    NeedTriggers,
}

/// The decision order of the reference: no triggers (an error, reported by the caller) → too
/// young → outside the enabled period → the triggers in order (an unhealthy one → no scale; one
/// that wants the target up → up) → down, unless the last scale-up is less than one cooldown ago.
pub fn decide(f: &Facts) -> Step {
    use Direction::*;
    if f.triggers == 0 {
        return Step::Decided(NoScale, "the service has no triggers");
    }
    if f.age < f.cooldown {
        return Step::Decided(NoScale, "created less than one cooldown period ago");
    }
    match f.enabled {
        None => return Step::NeedEnabled,
        Some(false) => return Step::Decided(ScaleUp, "outside the enabled period"),
        Some(true) => {}
    }
    match f.answer {
        None => Step::NeedTriggers,
        Some(Answer::Unhealthy) => Step::Decided(NoScale, "a trigger is unhealthy"),
        Some(Answer::WantsUp) => Step::Decided(ScaleUp, "a trigger wants the target up"),
        Some(Answer::AllowsZero) => match f.since_last_up {
            Some(since) if since < f.cooldown => {
                Step::Decided(NoScale, "less than one cooldown period since the last scale-up")
            }
            _ => Step::Decided(ScaleDown, "every trigger allows zero"),
        },
    }
}

/// What [`decide_service`] came to.
#[derive(Debug)]
pub(crate) struct Verdict {
    /// Which way the target should go.
    pub direction: Direction,
    /// Why.
    pub reason: String,
    /// The service's `enabledPeriod` could not be read (the target is then kept up); the pass
    /// records it as a Warning Event.
    pub invalid_period: Option<Error>,
}

/// The time from `since` to `now`; zero when `since` is later.
pub(crate) fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
    now.duration_since(since).try_into().unwrap_or(Duration::ZERO)
}

/// The decision for a service with `spec` at `now`: the table ([`decide`]) fed with the
/// service's age (since `created`), its enabled period at `now`, and, only when the table asks,
/// `ask()`'s answer of the triggers. `last_up` is the last tick that decided up.
///
/// A live pass calls it with the clock's time and asks the scalers; a replay calls it for every
/// step of its range with the triggers' answers from history. One path, so the two agree.
pub(crate) async fn decide_service<F, Fut>(
    spec: &ElastiServiceSpec,
    cooldown: Duration,
    created: Timestamp,
    last_up: Option<Timestamp>,
    now: Timestamp,
    ask: F,
) -> Result<Verdict>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Answer>>,
{
    let mut facts = Facts {
        triggers: spec.triggers.len(),
        age: elapsed(created, now),
        cooldown,
        since_last_up: last_up.map(|t| elapsed(t, now)),
        ..Default::default()
    };
    let mut ask = Some(ask);
    loop {
        match decide(&facts) {
            Step::Decided(direction, why) => {
                return Ok(Verdict { direction, reason: why.to_string(), invalid_period: None });
            }
            Step::NeedEnabled => {
                let parsed = match &spec.enabled_period {
                    Some(p) => EnabledPeriod::parse_cached(&p.schedule, &p.duration),
                    None => Ok(EnabledPeriod::default_period()),
                };
                match parsed {
                    Ok(period) => facts.enabled = Some(period.is_enabled(now)),
                    // As the reference: a period that cannot be read prevents scale-down.
                    Err(e) => {
                        return Ok(Verdict {
                            direction: Direction::ScaleUp,
                            reason: format!("the enabled period is invalid ({e})"),
                            invalid_period: Some(e),
                        });
                    }
                }
            }
            Step::NeedTriggers => {
                let ask = ask.take().expect("the table asks the triggers once");
                facts.answer = Some(ask().await?);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_direction_serialises_as_its_name() {
        for d in [Direction::ScaleUp, Direction::ScaleDown, Direction::NoScale] {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
    }
    use Direction::*;

    fn base() -> Facts {
        Facts {
            triggers: 1,
            age: Duration::from_secs(3600),
            cooldown: Duration::from_secs(60),
            enabled: Some(true),
            answer: Some(Answer::AllowsZero),
            since_last_up: None,
        }
    }

    #[test]
    fn table() {
        assert_eq!(decide(&base()), Step::Decided(ScaleDown, "every trigger allows zero"));
        assert!(matches!(decide(&Facts { triggers: 0, ..base() }), Step::Decided(NoScale, _)));
        assert!(matches!(decide(&Facts { age: Duration::from_secs(10), ..base() }), Step::Decided(NoScale, _)));
        assert!(matches!(decide(&Facts { enabled: Some(false), ..base() }), Step::Decided(ScaleUp, _)));
        let say = |s| Facts { answer: Some(s), ..base() };
        assert!(matches!(decide(&say(Answer::Unhealthy)), Step::Decided(NoScale, _)));
        assert!(matches!(decide(&say(Answer::WantsUp)), Step::Decided(ScaleUp, _)));
        let recent = Facts { since_last_up: Some(Duration::from_secs(30)), ..base() };
        assert!(matches!(decide(&recent), Step::Decided(NoScale, _)));
        let old = Facts { since_last_up: Some(Duration::from_secs(61)), ..base() };
        assert!(matches!(decide(&old), Step::Decided(ScaleDown, _)));
    }

    #[test]
    fn asks_only_what_it_needs_in_order() {
        assert_eq!(decide(&Facts { enabled: None, answer: None, ..base() }), Step::NeedEnabled);
        assert_eq!(decide(&Facts { answer: None, ..base() }), Step::NeedTriggers);
        // Outside the period the triggers are never asked.
        assert!(matches!(decide(&Facts { enabled: Some(false), answer: None, ..base() }), Step::Decided(ScaleUp, _)));
    }
}
