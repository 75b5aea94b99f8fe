//! The ElastiService status the loop writes: `mode`, `lastScaledUpTime`,
//! `lastReconciledTime`, each only when it changed or went stale.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};

use crate::core::elasti::controller::Controller;
use crate::core::elasti::decision::Direction;
use crate::core::elasti::pass::{api_resource, elapsed};
use crate::core::elasti::resource::{ElastiService, ElastiServiceStatus};
use crate::core::error::Result;

/// Mode of a target at zero.
pub const MODE_PROXY: &str = "proxy";
/// Mode of a serving target.
pub const MODE_SERVE: &str = "serve";

/// How stale the stored `lastScaledUpTime` may get before it is rewritten: a quarter cooldown.
pub fn persist_after(cooldown: Duration) -> Duration {
    cooldown / 4
}

/// How stale `lastReconciledTime` may get when nothing else in the status changes.
fn heartbeat_after(cooldown: Duration) -> Duration {
    (cooldown / 4).max(Duration::from_secs(300))
}

impl Controller {
    /// Patches the status only where it changed (or went stale).
    pub(crate) async fn write_status(
        &self,
        es: &ElastiService,
        status: &ElastiServiceStatus,
        direction: Direction,
        mode: Option<&str>,
        now: Timestamp,
        cooldown: Duration,
    ) -> Result<()> {
        let stale = |t: Option<&Time>, after: Duration| t.is_none_or(|t| elapsed(t.0, now) >= after);
        let mut patch = serde_json::Map::new();
        if let Some(m) = mode
            && status.mode.as_deref() != Some(m)
        {
            patch.insert("mode".into(), m.into());
        }
        if direction == Direction::ScaleUp && stale(status.last_scaled_up_time.as_ref(), persist_after(cooldown)) {
            patch.insert("lastScaledUpTime".into(), serde_json::to_value(Time(now)).unwrap_or_default());
        }
        if !patch.is_empty() || stale(status.last_reconciled_time.as_ref(), heartbeat_after(cooldown)) {
            patch.insert("lastReconciledTime".into(), serde_json::to_value(Time(now)).unwrap_or_default());
        }
        if patch.is_empty() {
            return Ok(());
        }
        let ns = es.metadata.namespace.as_deref().unwrap_or_default();
        let api: Api<DynamicObject> = Api::namespaced_with(self.handler.client().clone(), ns, &api_resource());
        let body = serde_json::json!({ "status": patch });
        api.patch_status(
            es.metadata.name.as_deref().unwrap_or_default(),
            &PatchParams::default(),
            &Patch::Merge(&body),
        )
        .await?;
        Ok(())
    }
}
