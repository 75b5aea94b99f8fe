//! Scalers: what each ElastiService trigger is asked every tick, and (for a replay) what it
//! would have answered over a range of time. The built-in one is Prometheus; Python scalers plug
//! in through [`ScalerFactory`].

pub mod history;
pub mod prometheus;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;

pub use crate::core::elasti::decision::Answer;
use crate::core::elasti::scalers::history::{Sample, StepRange};
use crate::core::error::{Error, Result};

/// One trigger's scaler. Every method may do I/O.
pub trait Scaler: Send + Sync {
    /// Whether the scaler's data source can be trusted right now.
    fn is_healthy(&self) -> BoxFuture<'_, Result<bool>>;
    /// Whether the target may go to (or stay at) zero.
    fn should_scale_to_zero(&self) -> BoxFuture<'_, Result<bool>>;
    /// Releases the scaler's resources.
    fn close(&self) -> BoxFuture<'_, Result<()>>;
}

/// Answers for one trigger type, from the trigger's metadata and the service's cooldown.
pub trait ScalerFactory: Send + Sync {
    /// Makes the trigger's scaler, asks it (health, then readiness for zero) and closes it;
    /// `trigger` names it (`namespace/service#index`), the same every pass. A Rust scaler does
    /// this with [`ask_scaler`]; the Python bridge does it all in one call with the GIL.
    fn ask(&self, trigger: &str, metadata: serde_json::Value, cooldown: Duration)
    -> BoxFuture<'static, Result<Answer>>;

    /// What the trigger would have answered at each step of `range` (one [`Sample`] per step,
    /// in order), for a replay. A trigger type without history raises [`Error::Trigger`]
    /// naming it, which is the default.
    fn history(
        &self,
        trigger: &str,
        metadata: serde_json::Value,
        cooldown: Duration,
        range: StepRange,
    ) -> BoxFuture<'static, Result<Vec<Sample>>> {
        let _ = (metadata, cooldown, range);
        let trigger = trigger.to_string();
        Box::pin(async move {
            Err(Error::Trigger {
                trigger,
                message: "this trigger type has no history, so it cannot be replayed".into(),
            })
        })
    }
}

/// Asks `scaler` as the reference does (health, then readiness for zero), then closes it (a
/// failure to close is logged, not returned).
pub async fn ask_scaler(scaler: &dyn Scaler) -> Result<Answer> {
    let answer = async {
        if !scaler.is_healthy().await? {
            return Ok(Answer::Unhealthy);
        }
        Ok(if scaler.should_scale_to_zero().await? { Answer::AllowsZero } else { Answer::WantsUp })
    }
    .await;
    if let Err(e) = scaler.close().await {
        tracing::debug!(error = %e, "closing a scaler failed");
    }
    answer
}

/// Trigger types and their factories; registered types override built-in ones.
pub struct ScalerRegistry {
    factories: RwLock<HashMap<String, Arc<dyn ScalerFactory>>>,
}

impl Default for ScalerRegistry {
    fn default() -> Self {
        let mut map: HashMap<String, Arc<dyn ScalerFactory>> = HashMap::new();
        map.insert("prometheus".into(), Arc::new(prometheus::PrometheusFactory));
        ScalerRegistry { factories: RwLock::new(map) }
    }
}

impl ScalerRegistry {
    /// Registers (or replaces) the factory of a trigger type.
    pub fn register(&self, type_: &str, factory: Arc<dyn ScalerFactory>) -> Result<()> {
        if type_.trim().is_empty() {
            return Err(Error::InvalidValue { field: "type", problem: "the trigger type is empty".into() });
        }
        self.factories.write().expect("registry poisoned").insert(type_.to_string(), factory);
        Ok(())
    }

    /// The factory of a trigger type.
    pub fn get(&self, type_: &str) -> Result<Arc<dyn ScalerFactory>> {
        self.factories.read().expect("registry poisoned").get(type_).cloned().ok_or_else(|| Error::Trigger {
            trigger: type_.to_string(),
            message: "no scaler is registered for this trigger type".into(),
        })
    }

    /// Registered trigger types, sorted.
    pub fn types(&self) -> Vec<String> {
        let mut v: Vec<String> = self.factories.read().expect("registry poisoned").keys().cloned().collect();
        v.sort();
        v
    }
}
