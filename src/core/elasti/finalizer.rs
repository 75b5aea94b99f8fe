//! kubescale's finalizer on an ElastiService whose target it holds at zero (KubeElasti #133:
//! deleting the ElastiService stranded the workload at zero).
//!
//! Added when the loop takes a target to zero, removed when it brings it back; so it is present
//! only while the target is held at zero. On deletion the loop restores the target (the
//! remembered count, at least `minTargetReplicas`), resumes KEDA, then removes the finalizer
//! and the object goes; what can never be restored does not keep it (see `release.rs`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams};

use crate::core::elasti::controller::Controller;
use crate::core::error::Result;
use crate::core::unread;

/// The finalizer's name.
pub const FINALIZER: &str = "kubescale.io/restore";

/// Whether the object carries kubescale's finalizer.
pub fn has_finalizer(meta: &ObjectMeta) -> bool {
    meta.finalizers.as_ref().is_some_and(|f| f.iter().any(|n| n == FINALIZER))
}

/// A JSON Patch that sets the finalizers from `current` to `wanted`, only if they are still
/// `current` (another controller's finalizer added meanwhile makes it fail, never vanish).
fn finalizers_patch(current: Option<&Vec<String>>, wanted: &[String]) -> json_patch::Patch {
    let ops = match current {
        Some(list) => serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": list},
            {"op": "replace", "path": "/metadata/finalizers", "value": wanted},
        ]),
        None => serde_json::json!([{"op": "add", "path": "/metadata/finalizers", "value": wanted}]),
    };
    serde_json::from_value(ops).expect("a well-formed JSON Patch")
}

impl Controller {
    /// Adds (`present`) or removes kubescale's finalizer, writing only when that changes it.
    pub(crate) async fn set_finalizer(&self, meta: &ObjectMeta, present: bool) -> Result<()> {
        if has_finalizer(meta) == present {
            return Ok(());
        }
        let current = meta.finalizers.as_ref();
        let mut wanted: Vec<String> =
            current.map(|f| f.iter().filter(|n| *n != FINALIZER).cloned().collect()).unwrap_or_default();
        if present {
            wanted.push(FINALIZER.to_string());
        }
        let ns = meta.namespace.as_deref().unwrap_or_default();
        let name = meta.name.as_deref().unwrap_or_default();
        let patch = Patch::Json::<()>(finalizers_patch(current, &wanted));
        let client = self.handler.client();
        unread::patch(client, self.services_in(ns).resource_url(), name, &PatchParams::default(), &patch).await?;
        tracing::debug!(
            namespace = ns,
            name,
            present,
            "kubescale finalizer {}",
            if present { "added" } else { "removed" }
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn others_finalizers_are_kept_and_tested() {
        let theirs = vec!["example.com/keep".to_string()];
        let p = serde_json::to_value(finalizers_patch(Some(&theirs), &[theirs[0].clone(), FINALIZER.into()])).unwrap();
        assert_eq!(
            p[0],
            serde_json::json!({"op": "test", "path": "/metadata/finalizers", "value": ["example.com/keep"]})
        );
        assert_eq!(p[1]["value"], serde_json::json!(["example.com/keep", FINALIZER]));
        let p = serde_json::to_value(finalizers_patch(None, &[FINALIZER.into()])).unwrap();
        assert_eq!(p, serde_json::json!([{"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}]));
    }
}
