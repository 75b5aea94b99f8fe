//! The one write of a replica count, used by every write of the scale path (on top of a scale
//! seen before, after a fresh read, and dry runs).
//!
//! Preferably a JSON Patch of the scale subresource that tests the count the write is based on,
//! then replaces it: one request, no resourceVersion needed, so changes made since the read to
//! annotations or status (the controller-manager updates status right after every scale) do not
//! fail it; only a change of the count itself does (422, the test failed). Where RBAC grants
//! `update` but not `patch` on `*/scale`, an update carrying the base's resourceVersion (a 409
//! when anything changed), remembered per handler.

use std::sync::atomic::Ordering;

use k8s_openapi::api::autoscaling::v1::{Scale as ApiScale, ScaleSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};

use crate::core::error::{Error, Result};
use crate::core::scale::handler::ScaleHandler;
use crate::core::scale::resolved::ResolvedTarget;

/// What a write is based on: the count it replaces, as read, and the resourceVersion it was
/// read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// `spec.replicas` as read (the API omits a zero count).
    pub replicas: Option<i32>,
    /// The resourceVersion of the read.
    pub resource_version: String,
}

impl Base {
    /// The base of a scale as read.
    pub fn of(s: &ApiScale) -> Self {
        Base {
            replicas: s.spec.as_ref().and_then(|sp| sp.replicas),
            resource_version: s.metadata.resource_version.clone().unwrap_or_default(),
        }
    }

    /// The count (absent is 0).
    pub fn count(&self) -> i32 {
        self.replicas.unwrap_or(0)
    }
}

/// A JSON Patch that sets `spec.replicas` to `desired` only if it is still `read` (absent when
/// the read showed 0: the API omits a zero count, and then `spec` is empty).
pub fn replicas_patch(read: Option<i32>, desired: i32) -> json_patch::Patch {
    let ops = match read {
        Some(n) => serde_json::json!([
            {"op": "test", "path": "/spec/replicas", "value": n},
            {"op": "replace", "path": "/spec/replicas", "value": desired},
        ]),
        None => serde_json::json!([
            {"op": "test", "path": "/spec", "value": {}},
            {"op": "add", "path": "/spec/replicas", "value": desired},
        ]),
    };
    serde_json::from_value(ops).expect("a well-formed JSON Patch")
}

/// Whether a 403 says RBAC does not grant the verb `patch` (as opposed to an admission webhook
/// or a quota refusing this one write, which must not switch the handler to updates for good).
pub fn patch_verb_denied(e: &Error) -> bool {
    matches!(e, Error::Api { status: 403, message, .. } if message.contains("cannot patch resource"))
}

impl ScaleHandler {
    /// Writes `desired` over `base`: a tested JSON Patch, or, where RBAC grants no `patch` on
    /// the scale subresource, an update carrying the base's resourceVersion. With `dry_run` the
    /// server validates the write and applies nothing.
    pub(crate) async fn write_replicas(
        &self,
        api: &Api<DynamicObject>,
        t: &ResolvedTarget,
        base: &Base,
        desired: i32,
        dry_run: bool,
    ) -> Result<ApiScale> {
        if self.scale_patch_allowed.load(Ordering::Relaxed) {
            let pp = PatchParams { dry_run, ..Default::default() };
            let patch = Patch::Json::<()>(replicas_patch(base.replicas, desired));
            match api.patch_scale(&t.name, &pp, &patch).await.map_err(Error::from) {
                Err(e) if patch_verb_denied(&e) => {
                    tracing::info!(error = %e, "no patch permission on the scale subresource; using update");
                    self.scale_patch_allowed.store(false, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        let scale = ApiScale {
            metadata: ObjectMeta {
                name: Some(t.name.clone()),
                namespace: t.resource.namespaced.then(|| t.namespace.clone()),
                resource_version: Some(base.resource_version.clone()),
                ..Default::default()
            },
            spec: Some(ScaleSpec { replicas: Some(desired) }),
            status: None,
        };
        let pp = PostParams { dry_run, ..Default::default() };
        Ok(api.replace_scale(&t.name, &pp, &scale).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_tests_the_count_it_is_based_on() {
        let json = |p: json_patch::Patch| serde_json::to_value(p).unwrap();
        assert_eq!(
            json(replicas_patch(Some(3), 5)),
            serde_json::json!([
                {"op": "test", "path": "/spec/replicas", "value": 3},
                {"op": "replace", "path": "/spec/replicas", "value": 5},
            ])
        );
        // A zero count is absent from the read: then spec must still be empty.
        assert_eq!(
            json(replicas_patch(None, 2)),
            serde_json::json!([
                {"op": "test", "path": "/spec", "value": {}},
                {"op": "add", "path": "/spec/replicas", "value": 2},
            ])
        );
    }

    #[test]
    fn only_rbac_denying_patch_switches_to_update() {
        let forbidden = |message: &str| Error::Api { status: 403, reason: "Forbidden".into(), message: message.into() };
        assert!(patch_verb_denied(&forbidden(
            "deployments.apps \"web\" is forbidden: User \"system:serviceaccount:a:b\" cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"a\""
        )));
        assert!(!patch_verb_denied(&forbidden(
            "admission webhook \"deny.example.com\" denied the request: replicas are frozen"
        )));
        assert!(!patch_verb_denied(&forbidden("exceeded quota: pods")));
    }
}
