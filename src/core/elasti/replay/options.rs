//! What a replay covers, and the spec values it tries instead of the stored ones.

use std::time::Duration;

use jiff::Timestamp;

use crate::core::elasti::resource::{ElastiServiceSpec, EnabledPeriodSpec, MAX_COOLDOWN};
use crate::core::error::{Error, Result};

/// A replay's range and overrides.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The first step (aligned down to a multiple of `step`).
    pub start: Timestamp,
    /// The last step (included).
    pub end: Timestamp,
    /// The time between steps: whole seconds, at least one.
    pub step: Duration,
    /// Spec values to try instead of the stored ones.
    pub overrides: Overrides,
    /// What each cold start costs the request that finds the target at zero.
    pub cost: crate::core::elasti::replay::result::ColdStartCost,
    /// Charge each cold start the mean wake-up the loop measured over the range (read from the
    /// service's Prometheus, see `measured.rs`) instead of `cost.wake_up`.
    pub measured_wake_up: bool,
}

/// Spec values a replay uses instead of the stored ones; the object is not changed.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `cooldownPeriod` (zero means the 900 s default, as in the spec).
    pub cooldown: Option<Duration>,
    /// `enabledPeriod`: `Some(None)` removes it (always enabled).
    pub enabled_period: Option<Option<EnabledPeriodSpec>>,
    /// `minTargetReplicas`.
    pub min_target_replicas: Option<i32>,
    /// Keys merged into a trigger's `metadata` (by the trigger's index), e.g. `threshold`.
    pub trigger_metadata: Vec<(usize, serde_json::Map<String, serde_json::Value>)>,
}

impl Overrides {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.cooldown.is_none()
            && self.enabled_period.is_none()
            && self.min_target_replicas.is_none()
            && self.trigger_metadata.is_empty()
    }

    /// `spec` with the overrides applied. Raises [`Error::InvalidValue`] naming the override
    /// that cannot apply (a cooldown over a week or not in whole seconds, a negative
    /// minimum, a trigger index the service does not have).
    pub fn apply(&self, spec: &ElastiServiceSpec) -> Result<ElastiServiceSpec> {
        let mut spec = spec.clone();
        if let Some(c) = self.cooldown {
            let secs = i32::try_from(c.as_secs()).ok().filter(|s| *s <= MAX_COOLDOWN && c.subsec_nanos() == 0);
            spec.cooldown_period = secs.ok_or_else(|| Error::InvalidValue {
                field: "cooldown",
                problem: format!("{c:?} must be whole seconds, at most {MAX_COOLDOWN}s"),
            })?;
        }
        if let Some(p) = &self.enabled_period {
            spec.enabled_period = p.clone();
        }
        if let Some(m) = self.min_target_replicas {
            if m < 0 {
                return Err(Error::InvalidValue { field: "min_target_replicas", problem: format!("{m} is negative") });
            }
            spec.min_target_replicas = m;
        }
        let count = spec.triggers.len();
        for (i, keys) in &self.trigger_metadata {
            let trigger = spec.triggers.get_mut(*i).ok_or_else(|| Error::InvalidValue {
                field: "trigger",
                problem: format!("the service has {count} trigger(s); there is no trigger {i}"),
            })?;
            let mut metadata = match trigger.metadata.take() {
                Some(serde_json::Value::Object(m)) => m,
                _ => serde_json::Map::new(),
            };
            metadata.extend(keys.clone());
            trigger.metadata = Some(serde_json::Value::Object(metadata));
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> ElastiServiceSpec {
        serde_json::from_value(json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "service": "web",
            "cooldownPeriod": 900,
            "enabledPeriod": {"schedule": "0 9 * * *", "duration": "8h"},
            "triggers": [{"type": "prometheus", "metadata": {"query": "q", "threshold": "1"}}],
        }))
        .unwrap()
    }

    #[test]
    fn overrides_change_only_what_they_name() {
        let mut keys = serde_json::Map::new();
        keys.insert("threshold".into(), json!("5"));
        let o = Overrides {
            cooldown: Some(Duration::from_secs(300)),
            enabled_period: Some(None),
            min_target_replicas: Some(2),
            trigger_metadata: vec![(0, keys)],
        };
        let s = o.apply(&spec()).unwrap();
        assert_eq!(s.cooldown_period, 300);
        assert!(s.enabled_period.is_none());
        assert_eq!(s.min_target_replicas, 2);
        assert_eq!(s.triggers[0].metadata, Some(json!({"query": "q", "threshold": "5"})));
        assert_eq!(Overrides::default().apply(&spec()).unwrap().cooldown_period, 900);
    }

    #[test]
    fn overrides_that_cannot_apply_are_named() {
        let o = Overrides { trigger_metadata: vec![(3, serde_json::Map::new())], ..Default::default() };
        assert!(o.apply(&spec()).unwrap_err().to_string().contains("no trigger 3"));
        let o = Overrides { cooldown: Some(Duration::from_secs(10_000_000)), ..Default::default() };
        assert!(o.apply(&spec()).unwrap_err().to_string().contains("cooldown"));
        let o = Overrides { min_target_replicas: Some(-1), ..Default::default() };
        assert!(o.apply(&spec()).unwrap_err().to_string().contains("min_target_replicas"));
    }
}
