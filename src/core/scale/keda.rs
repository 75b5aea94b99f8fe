//! Pausing and resuming KEDA ScaledObjects with the annotations KEDA reads.

use kube::api::{Patch, PatchParams};

use crate::core::error::Result;
use crate::core::scale::handler::ScaleHandler;
use crate::core::target::TypeSpec;
use crate::core::unread;

/// KEDA stops scaling a ScaledObject while this annotation is `"true"`.
pub const PAUSED: &str = "autoscaling.keda.sh/paused";
/// The replica count KEDA holds a paused ScaledObject at.
pub const PAUSED_REPLICAS: &str = "autoscaling.keda.sh/paused-replicas";

pub(crate) fn scaled_object_type() -> TypeSpec {
    TypeSpec { resource: "scaledobjects".into(), version: Some("v1alpha1".into()), group: Some("keda.sh".into()) }
}

impl ScaleHandler {
    /// Pauses (`paused: "true"`, `paused-replicas: "0"`) or resumes (`paused: "false"`, no
    /// `paused-replicas`) a ScaledObject. Writes only when the annotations differ; returns whether
    /// it wrote.
    pub async fn set_keda_paused(&self, name: &str, namespace: Option<&str>, paused: bool) -> Result<bool> {
        self.keda_paused(name, namespace, paused, false).await
    }

    /// [`set_keda_paused`](Self::set_keda_paused); with `dry_run`, reads only and returns
    /// whether it would write.
    pub async fn keda_paused(&self, name: &str, namespace: Option<&str>, paused: bool, dry_run: bool) -> Result<bool> {
        self.check_open()?;
        crate::core::target::validate_name(&format!("scaledobjects.keda.sh/{name}"), name)?;
        let ns = self.namespace_for(namespace)?;
        let resource = self.resolve(&scaled_object_type()).await?;
        let api = self.dynamic_api(&resource, &ns);
        // The loop's watch of ScaledObjects, when live, saves the read.
        let ann = match self.watched_meta(&resource, &ns, name) {
            Some(Some(meta)) => meta.metadata.annotations.clone(),
            _ => api.get_metadata(name).await?.metadata.annotations,
        }
        .unwrap_or_default();
        let (want_paused, want_replicas) = if paused { ("true", Some("0")) } else { ("false", None) };
        if ann.get(PAUSED).map(String::as_str) == Some(want_paused)
            && ann.get(PAUSED_REPLICAS).map(String::as_str) == want_replicas
        {
            return Ok(false);
        }
        if dry_run {
            return Ok(true);
        }
        let patch = serde_json::json!({
            "metadata": {"annotations": {PAUSED: want_paused, PAUSED_REPLICAS: want_replicas}}
        });
        unread::patch(&self.client, api.resource_url(), name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        tracing::info!(namespace = %ns, scaled_object = name, paused, "KEDA ScaledObject {}", if paused { "paused" } else { "resumed" });
        Ok(true)
    }
}
