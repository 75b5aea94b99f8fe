//! The `ElastiService` custom resource (`elasti.truefoundry.com/v1alpha1`), compatible with
//! KubeElasti's: every object valid there is valid here. Our schema is a superset: a trigger's
//! `type` is free-form (Python scalers have their own names) and `scaleTargetRef` may name any
//! scalable kind.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::elasti::enabled_period::{DEFAULT_DURATION, DEFAULT_SCHEDULE};

/// Default `minTargetReplicas`.
pub const DEFAULT_MIN_REPLICAS: i32 = 1;
/// Default `cooldownPeriod`, in seconds.
pub const DEFAULT_COOLDOWN: i32 = 900;
/// Largest `cooldownPeriod`: seven days.
pub const MAX_COOLDOWN: i32 = 604_800;

fn default_min_replicas() -> i32 {
    DEFAULT_MIN_REPLICAS
}
fn default_cooldown() -> i32 {
    DEFAULT_COOLDOWN
}
fn default_schedule() -> String {
    DEFAULT_SCHEDULE.into()
}
fn default_duration() -> String {
    DEFAULT_DURATION.into()
}

/// Free-form JSON kept as written (`x-kubernetes-preserve-unknown-fields`).
fn free_form(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

/// The schema of a `metav1.Time` field, an RFC 3339 string (k8s-openapi is built without its
/// `schemars` feature, which would generate a schema for every Kubernetes type).
struct TimeSchema;

impl JsonSchema for TimeSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Time".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "date-time"})
    }
}

/// What an ElastiService scales to zero and back.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "elasti.truefoundry.com",
    version = "v1alpha1",
    kind = "ElastiService",
    plural = "elastiservices",
    singular = "elastiservice",
    namespaced,
    status = "ElastiServiceStatus",
    doc = "ElastiService is the Schema for the elastiservices API"
)]
#[serde(rename_all = "camelCase")]
pub struct ElastiServiceSpec {
    /// The target resource to scale.
    pub scale_target_ref: ScaleTargetRef,
    /// The Service in front of the target.
    pub service: String,
    /// Replicas to scale up to (at least).
    #[serde(default = "default_min_replicas")]
    #[schemars(range(min = 1))]
    pub min_target_replicas: i32,
    /// Seconds after a scale-up before a scale-down may happen.
    #[serde(default = "default_cooldown")]
    #[schemars(range(min = 0, max = MAX_COOLDOWN))]
    pub cooldown_period: i32,
    /// Triggers that decide whether the target may be at zero.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<ScaleTrigger>,
    /// An autoscaler (HPA or KEDA ScaledObject) managing the target while it serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler: Option<AutoscalerSpec>,
    /// When scale-to-zero is allowed; outside it the target is kept up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_period: Option<EnabledPeriodSpec>,
}

/// The scaled object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTargetRef {
    /// API version of the target, e.g. `apps/v1`.
    pub api_version: String,
    /// Kind of the target, e.g. `Deployment` (legacy: `deployments`, `rollouts`).
    pub kind: String,
    /// Name of the target.
    pub name: String,
}

impl ElastiServiceSpec {
    /// The service's cooldown: `cooldownPeriod` seconds, where 0 (or less) means the 900 s
    /// default, as the reference's `resolveCooldownPeriod` reads it.
    pub fn cooldown(&self) -> std::time::Duration {
        let seconds = if self.cooldown_period > 0 { self.cooldown_period } else { DEFAULT_COOLDOWN };
        std::time::Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
    }
}

impl ScaleTargetRef {
    /// The kind, with KubeElasti's legacy spellings `deployments` / `rollouts` mapped to kinds.
    pub fn normalized_kind(&self) -> &str {
        match self.kind.as_str() {
            "deployments" => "Deployment",
            "rollouts" => "Rollout",
            other => other,
        }
    }
}

/// One trigger: a scaler type and its metadata.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct ScaleTrigger {
    /// The scaler type, e.g. `prometheus` or a registered Python scaler.
    #[serde(rename = "type")]
    pub type_: String,
    /// The scaler's settings (free-form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form")]
    pub metadata: Option<serde_json::Value>,
}

/// The autoscaler that manages the target while it serves.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct AutoscalerSpec {
    /// `hpa` or `keda`.
    #[serde(rename = "type")]
    pub type_: AutoscalerType,
    /// Name of the HorizontalPodAutoscaler or ScaledObject.
    pub name: String,
}

/// Autoscaler kinds.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AutoscalerType {
    /// A HorizontalPodAutoscaler (left alone).
    Hpa,
    /// A KEDA ScaledObject (paused at zero, resumed on scale-up).
    Keda,
}

/// A cron schedule (5 fields, UTC) and how long each period lasts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct EnabledPeriodSpec {
    /// 5-field cron schedule in UTC.
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// Duration of each period, e.g. `8h`.
    #[serde(default = "default_duration")]
    pub duration: String,
}

/// Observed state.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ElastiServiceStatus {
    /// Last time the service was reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<TimeSchema>")]
    pub last_reconciled_time: Option<Time>,
    /// Last tick that decided to scale up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<TimeSchema>")]
    pub last_scaled_up_time: Option<Time>,
    /// `proxy` at zero replicas, `serve` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// The CRD manifest, generated from these types.
pub fn crd() -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    use kube::CustomResourceExt;
    ElastiService::crd()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_cooldown_means_the_default() {
        let mut spec: ElastiServiceSpec = serde_json::from_value(serde_json::json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "service": "web",
            "cooldownPeriod": 0,
        }))
        .unwrap();
        assert_eq!(spec.cooldown(), std::time::Duration::from_secs(900));
        spec.cooldown_period = 60;
        assert_eq!(spec.cooldown(), std::time::Duration::from_secs(60));
    }

    #[test]
    fn reference_shaped_object_decodes_with_defaults() {
        let obj: ElastiService = serde_json::from_value(serde_json::json!({
            "apiVersion": "elasti.truefoundry.com/v1alpha1",
            "kind": "ElastiService",
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {
                "service": "web",
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "deployments", "name": "web"},
                "triggers": [{"type": "prometheus", "metadata": {"query": "sum(x)", "threshold": "0.5", "serverAddress": "http://p:9090"}}],
                "autoscaler": {"type": "keda", "name": "web-so"}
            }
        }))
        .unwrap();
        assert_eq!(obj.spec.min_target_replicas, 1);
        assert_eq!(obj.spec.cooldown_period, 900);
        assert_eq!(obj.spec.scale_target_ref.normalized_kind(), "Deployment");
        assert_eq!(obj.spec.autoscaler.as_ref().unwrap().type_, AutoscalerType::Keda);
    }

    #[test]
    fn crd_has_status_bounds_and_free_form_metadata() {
        let text = serde_json::to_string(&crd()).unwrap();
        assert!(text.contains("\"status\":{}"), "status subresource");
        assert!(text.contains("\"maximum\":604800.0") || text.contains("\"maximum\":604800"), "{text}");
        assert!(text.contains("x-kubernetes-preserve-unknown-fields"));
        assert_eq!(crd().metadata.name.as_deref(), Some("elastiservices.elasti.truefoundry.com"));
    }

    #[test]
    fn crd_status_times_are_nullable_rfc3339_strings() {
        let crd = serde_json::to_value(crd()).unwrap();
        let status = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"];
        for field in ["lastReconciledTime", "lastScaledUpTime"] {
            let schema = &status["properties"][field];
            assert_eq!(schema["type"], "string", "{field}: {schema}");
            assert_eq!(schema["format"], "date-time", "{field}: {schema}");
            assert_eq!(schema["nullable"], true, "{field}: {schema}");
        }
    }
}
