//! Letting go of what the loop holds: a target held at zero is brought back (the remembered
//! count, at least `minTargetReplicas`), its KEDA ScaledObject resumed, and kubescale's
//! finalizer removed. This happens when the ElastiService is deleted, and for every service at
//! once with [`Controller::release_all`] (`kubescale release`, the step before an uninstall).
//!
//! Deletion always completes: only what can be retried (the API server unavailable or slow,
//! 429, a 5xx) keeps the finalizer for the next pass. What can never resolve (the target or its
//! kind gone, a target reference or spec that cannot be read, the ScaledObject or KEDA gone)
//! becomes a Warning Event on the ElastiService saying what was not restored, and the finalizer
//! goes. The spec is read leniently here, field by field: an object edited into nonsense can
//! still be released.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DynamicObject, ListParams, Patch};
use serde::Deserialize as _;

use crate::core::elasti::controller::Controller;
use crate::core::elasti::decision::Decision;
use crate::core::elasti::decision::{Direction, restore};
use crate::core::elasti::finalizer::{FINALIZER, has_finalizer};
use crate::core::elasti::resource::{AutoscalerSpec, AutoscalerType, ScaleTargetRef};
use crate::core::elasti::service_api::reference_to;
use crate::core::elasti::status::MODE_SERVE;
use crate::core::error::{Error, Result};
use crate::core::scale::events::EventType;
use crate::core::target::TargetRef;
use crate::core::unread;

/// Whether an error in restoring can never go away by retrying: the thing to restore, or its
/// kind, is gone or cannot be named. Unavailable servers, timeouts, 429, 5xx, 403 (RBAC may be
/// fixed) and 409 are retried.
pub(crate) fn never_resolves(e: &Error) -> bool {
    match e {
        Error::NoMatch(_)
        | Error::NotScalable { .. }
        | Error::InvalidTarget { .. }
        | Error::InvalidValue { .. }
        | Error::NamespaceNotAllowed { .. } => true,
        Error::Api { status, .. } => matches!(status, 400 | 404 | 410 | 422),
        _ => false,
    }
}

/// What a held service names, read field by field from the object as stored.
struct HeldService<'a> {
    meta: &'a ObjectMeta,
    target: Result<TargetRef>,
    min_replicas: i32,
    keda: Option<String>,
}

impl<'a> HeldService<'a> {
    fn of(obj: &'a DynamicObject) -> Self {
        let spec = obj.data.get("spec");
        let field = |name: &str| spec.and_then(|s| s.get(name)).filter(|v| !v.is_null());
        let target = match field("scaleTargetRef").map(ScaleTargetRef::deserialize) {
            Some(Ok(r)) => TargetRef::from_parts(&r.api_version, r.normalized_kind(), &r.name),
            Some(Err(e)) => Err(Error::InvalidValue { field: "spec.scaleTargetRef", problem: e.to_string() }),
            None => Err(Error::InvalidValue { field: "spec.scaleTargetRef", problem: "missing".into() }),
        };
        let min_replicas = field("minTargetReplicas")
            .and_then(serde_json::Value::as_i64)
            .map_or(1, |n| i32::try_from(n.clamp(1, i64::from(i32::MAX))).unwrap_or(1));
        let keda = field("autoscaler")
            .and_then(|a| AutoscalerSpec::deserialize(a).ok())
            .filter(|a| a.type_ == AutoscalerType::Keda)
            .map(|a| a.name);
        HeldService { meta: &obj.metadata, target, min_replicas, keda }
    }
}

/// What releasing one service did, and what it could not do.
pub(crate) struct Released {
    pub(crate) actions: Vec<String>,
    pub(crate) restored_to: Option<i32>,
    pub(crate) not_restored: Vec<String>,
}

impl Released {
    /// Up when the target was restored, else no scale.
    pub(crate) fn direction(&self) -> Direction {
        if self.restored_to.is_some() { Direction::ScaleUp } else { Direction::NoScale }
    }

    /// A one-line reason for the decision.
    pub(crate) fn reason(&self, why: &str) -> String {
        match (self.restored_to, self.not_restored.is_empty()) {
            (Some(n), true) => format!("{why}: target restored to {n} replicas"),
            (Some(n), false) => format!("{why}: target restored to {n} replicas; {}", self.not_restored.join("; ")),
            (None, _) => format!("{why}: {}", self.not_restored.join("; ")),
        }
    }
}

impl Controller {
    /// Restores what the loop holds for `obj` (its finalizer is there) and removes the
    /// finalizer; errors that can never resolve are reported in [`Released::not_restored`] (and
    /// a Warning Event) instead of keeping the finalizer. `Err` only for what may be retried.
    pub(crate) async fn release_held(&self, obj: &DynamicObject, dry_run: bool) -> Result<Released> {
        let held = HeldService::of(obj);
        let ns = held.meta.namespace.as_deref();
        let mut out = Released { actions: Vec::new(), restored_to: None, not_restored: Vec::new() };
        if let Some(name) = &held.keda {
            match self.handler.keda_paused(name, ns, false, dry_run).await {
                Ok(true) => out.actions.push(format!("resume KEDA {name}")),
                Ok(false) => {}
                Err(e) if never_resolves(&e) => out.not_restored.push(format!("KEDA {name} was not resumed ({e})")),
                Err(e) => return Err(e),
            }
        }
        match &held.target {
            Err(e) => out.not_restored.push(format!("the target was not restored ({e})")),
            Ok(target) => {
                let intent = restore(held.min_replicas);
                match self.scale_step(held.meta, target, intent, dry_run, &mut out.actions).await {
                    Ok(o) => out.restored_to = Some(o.replicas),
                    Err(e) if never_resolves(&e) => {
                        out.not_restored.push(format!("target {target} was not restored ({e})"));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if has_finalizer(held.meta) {
            out.actions.push(format!("remove finalizer {FINALIZER}"));
            if !dry_run {
                self.set_finalizer(held.meta, false).await?;
            }
        }
        if !out.not_restored.is_empty() {
            let note = format!("{}; kubescale's finalizer was removed", out.not_restored.join("; "));
            tracing::warn!(namespace = ?ns, name = ?held.meta.name, "{note}");
            if !dry_run {
                self.handler.record_quietly(EventType::Warning, "FailedToRestore", note, &reference_to(held.meta));
            }
        }
        Ok(out)
    }

    /// Every ElastiService of `namespace` (all namespaces with `None`; within the handler's
    /// watch namespace) that kubescale holds (its finalizer is there): target restored, KEDA
    /// resumed, finalizer removed, status `mode: serve` where the target runs again. Services
    /// kubescale does not hold are left alone. Stop the loop first, or it takes the targets
    /// back to zero at its next pass.
    ///
    /// One [`Decision`] per released service, its actions saying what was done (with `dry_run`,
    /// what would be done; nothing is written). A service that fails to release has `error` set
    /// while the others proceed.
    pub async fn release_all(&self, namespace: Option<&str>, dry_run: bool) -> Result<Vec<Decision>> {
        self.check_open()?;
        let api = match namespace {
            Some(ns) => self.services_in(&self.handler.namespace_for(Some(ns))?),
            None => self.services_watched(),
        };
        let held: Vec<DynamicObject> =
            api.list(&ListParams::default()).await?.items.into_iter().filter(|o| has_finalizer(&o.metadata)).collect();
        let released = futures::future::join_all(held.iter().map(|obj| self.release_one(obj, dry_run))).await;
        self.handler.flush_events().await;
        Ok(released)
    }

    async fn release_one(&self, obj: &DynamicObject, dry_run: bool) -> Decision {
        let meta = &obj.metadata;
        match self.release_held(obj, dry_run).await {
            Ok(r) => {
                let serving = r.restored_to.is_some_and(|n| n > 0) && meta.deletion_timestamp.is_none();
                if serving
                    && !dry_run
                    && let Err(e) = self.mark_serving(meta).await
                {
                    tracing::warn!(namespace = ?meta.namespace, name = ?meta.name, error = %e, "released, but the status could not be updated");
                }
                Decision::of(meta, r.direction(), &r.reason("released"), None, r.actions, dry_run)
            }
            Err(e) => {
                let message = crate::core::redact::redact(&e.to_string());
                Decision::of(meta, Direction::NoScale, "error", Some(message), Vec::new(), dry_run)
            }
        }
    }

    /// Writes `mode: serve` to the status of a released service (KubeElasti's resolver reads
    /// the mode to decide whether to proxy).
    async fn mark_serving(&self, meta: &ObjectMeta) -> Result<()> {
        let api = self.services_in(meta.namespace.as_deref().unwrap_or_default());
        let body = Patch::Merge(serde_json::json!({"status": {"mode": MODE_SERVE}}));
        let name = meta.name.as_deref().unwrap_or_default();
        unread::patch_status(self.handler.client(), api.resource_url(), name, &body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(spec: serde_json::Value) -> DynamicObject {
        let mut o = DynamicObject::new("es", &crate::core::elasti::service_api::api_resource()).within("ns");
        o.data = serde_json::json!({ "spec": spec });
        o
    }

    #[test]
    fn a_spec_edited_into_nonsense_is_read_field_by_field() {
        let o = object(serde_json::json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "deployments", "name": "web"},
            "minTargetReplicas": "three",
            "autoscaler": {"type": "keda", "name": "web-so"},
            "triggers": "not a list",
        }));
        let h = HeldService::of(&o);
        assert_eq!(h.target.unwrap().to_string(), "Deployment.v1.apps/web");
        assert_eq!((h.min_replicas, h.keda.as_deref()), (1, Some("web-so")));
        let o = object(serde_json::json!({"scaleTargetRef": 7, "minTargetReplicas": 4}));
        let h = HeldService::of(&o);
        assert!(matches!(h.target, Err(Error::InvalidValue { field: "spec.scaleTargetRef", .. })));
        assert_eq!((h.min_replicas, h.keda), (4, None));
        assert!(HeldService::of(&object(serde_json::Value::Null)).target.is_err());
    }

    #[test]
    fn only_what_retrying_cannot_fix_lets_the_finalizer_go() {
        let api = |status: u16| Error::Api { status, reason: String::new(), message: String::new() };
        assert!(never_resolves(&Error::NoMatch("Pool.v1.ops.example.com".into())));
        assert!(never_resolves(&api(404)) && never_resolves(&api(422)));
        for transient in [api(500), api(503), api(429), api(403), api(409), Error::unavailable("refused")] {
            assert!(!never_resolves(&transient), "{transient}");
        }
    }
}
