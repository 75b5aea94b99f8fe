//! Putting the workloads of a namespace to sleep and waking them (kube-green's use case), aware
//! of who else scales them.
//!
//! - `sleep` remembers each target's count in `kubescale.io/previous-replicas` (as
//!   `scale_to_zero` does) and scales it to 0. A target already at 0 is left as it is, so
//!   sleeping twice never overwrites a remembered count with 0.
//! - `wake` brings each target at 0 back to exactly its remembered count. A target at 0 with
//!   nothing remembered stays at 0, and a target someone scaled while it slept stays as they set
//!   it; both are reported as skipped.
//! - A target an ElastiService holds belongs to the loop: it is left alone and reported as
//!   skipped.
//! - A target a KEDA ScaledObject scales: the ScaledObject is paused before the target sleeps and
//!   resumed as it wakes, as the loop does.
//! - A target a HorizontalPodAutoscaler scales: the HPA controller does not scale a target whose
//!   desired count is 0 (it reports `ScalingActive=False`, `ScalingDisabled`), so the sleep holds,
//!   and it scales the target again from the count it wakes at. Its entry names the HPA.

use std::collections::HashMap;

use k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler;
use kube::Api;
use kube::api::{DynamicObject, ListParams};

use crate::core::elasti::controller::Controller;
use crate::core::elasti::service_api::decode;
use crate::core::error::{Error, Result};
use crate::core::scale::fleet::{FleetEntry, Listed, Namespaces};
use crate::core::scale::intent::Intent;
use crate::core::scale::operations::PREVIOUS_REPLICAS_ANNOTATION;
use crate::core::scale::resolved::ResolvedTarget;
use crate::core::target::TypeSpec;

/// A target as the objects that name it do: namespace, API group, kind and name.
type Key = (String, String, String, String);

fn key_of(t: &ResolvedTarget) -> Key {
    (t.namespace.clone(), t.resource.group.clone(), t.resource.kind.clone(), t.name.clone())
}

/// The key of a `scaleTargetRef` (`apiVersion`, `kind`, `name`) in `namespace`.
fn key_of_ref(namespace: &str, api_version: &str, kind: &str, name: &str) -> Key {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    (namespace.to_string(), group.to_string(), kind.to_string(), name.to_string())
}

/// Which way [`Controller::sleep_or_wake`] turns the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Remember each count and go to 0.
    Sleep,
    /// Back to the remembered counts.
    Wake,
}

/// Who else acts on the targets: the ElastiService holding each, the KEDA ScaledObject and the
/// HorizontalPodAutoscaler scaling each (by name).
#[derive(Debug, Default)]
struct Others {
    held: HashMap<Key, String>,
    keda: HashMap<Key, String>,
    hpa: HashMap<Key, String>,
}

impl Others {
    /// The entry of a target an ElastiService holds: left to the loop.
    fn left_to_the_loop(&self, l: &Listed, key: &Key) -> Option<FleetEntry> {
        let es = self.held.get(key)?;
        let why = format!("held by ElastiService {es}: left to the loop");
        Some(FleetEntry::skipped(&l.target, l.count.unwrap_or(0), why))
    }
}

/// Whether an error only says the type is not served here (its CRD is not installed).
fn not_installed(e: &Error) -> bool {
    matches!(e, Error::NoMatch(_)) || e.is_missing_resource_type()
}

/// The `scaleTargetRef` of an object's spec as (`apiVersion`, `kind`, `name`), with KEDA's
/// defaults (`apps/v1`, `Deployment`).
fn scale_target_ref(obj: &DynamicObject) -> Option<(String, String, String)> {
    let r = obj.data.get("spec")?.get("scaleTargetRef")?;
    let field = |f: &str, default: &str| r.get(f).and_then(|v| v.as_str()).unwrap_or(default).to_string();
    let name = field("name", "");
    (!name.is_empty()).then(|| (field("apiVersion", "apps/v1"), field("kind", "Deployment"), name))
}

impl Controller {
    /// Sleeps (every target of `types` matching `selector` in `namespaces` to 0, each count
    /// remembered) or wakes (each target that sleeps at 0 back to its remembered count); see
    /// the module doc. One entry per target.
    ///
    /// Raises:
    ///     What the caller got wrong, before anything is written (an unknown or unscalable
    ///     type, a selector the API server does not parse, a namespace outside the handler's).
    pub async fn sleep_or_wake(
        &self,
        turn: Turn,
        types: &[String],
        selector: Option<&str>,
        namespaces: &Namespaces,
        dry_run: bool,
    ) -> Result<Vec<FleetEntry>> {
        let (listed, mut entries, others) = self.fleet_of(types, selector, namespaces).await?;
        let done = listed.iter().map(|l| match turn {
            Turn::Sleep => futures::future::Either::Left(self.sleep_one(l, &others, dry_run)),
            Turn::Wake => futures::future::Either::Right(self.wake_one(l, &others, dry_run)),
        });
        entries.extend(futures::future::join_all(done).await);
        self.handler.flush_events().await;
        Ok(entries)
    }

    /// The targets of every type, the entries of the namespaces that could not be listed, and
    /// who else acts on the targets. Every type is resolved before anything is listed.
    async fn fleet_of(
        &self,
        types: &[String],
        selector: Option<&str>,
        namespaces: &Namespaces,
    ) -> Result<(Vec<Listed>, Vec<FleetEntry>, Others)> {
        self.check_open()?;
        if types.is_empty() {
            return Err(Error::InvalidValue { field: "types", problem: "no type to act on".into() });
        }
        let mut resources = Vec::with_capacity(types.len());
        for t in types {
            resources.push(self.handler.resolve_scalable(&TypeSpec::parse(t)?).await?);
        }
        let mut listed = Vec::new();
        let mut entries = Vec::new();
        for resource in &resources {
            let mut found = self.handler.list_fleet(resource, namespaces, selector).await?;
            entries.extend(found.failed_entries(resource));
            listed.extend(found.listed);
        }
        let others = self.others(namespaces).await?;
        Ok((listed, entries, others))
    }

    /// The ElastiServices, KEDA ScaledObjects and HPAs of the namespaces. A type that is not
    /// installed names nothing; HPAs that cannot be listed are only not reported.
    async fn others(&self, namespaces: &Namespaces) -> Result<Others> {
        let scope = self.handler.fleet_scope(namespaces)?;
        let mut others = Others::default();
        match self.services_of(scope.as_deref()).list(&ListParams::default()).await.map_err(Error::from) {
            Ok(list) => {
                for es in list.items.iter().filter_map(|o| decode(o).ok()) {
                    let ns = es.metadata.namespace.clone().unwrap_or_default();
                    let r = &es.spec.scale_target_ref;
                    let key = key_of_ref(&ns, &r.api_version, r.normalized_kind(), &r.name);
                    others.held.insert(key, format!("{ns}/{}", es.metadata.name.clone().unwrap_or_default()));
                }
            }
            Err(e) if not_installed(&e) => {}
            Err(e) => return Err(e),
        }
        match self.handler.resolve(&crate::core::scale::keda::scaled_object_type()).await {
            Ok(resource) => {
                let ar = resource.api_resource();
                let api: Api<DynamicObject> = match &scope {
                    Some(ns) => Api::namespaced_with(self.handler.client().clone(), ns, &ar),
                    None => Api::all_with(self.handler.client().clone(), &ar),
                };
                for so in api.list(&ListParams::default()).await?.items {
                    let ns = so.metadata.namespace.clone().unwrap_or_default();
                    if let Some((api_version, kind, name)) = scale_target_ref(&so) {
                        let so_name = so.metadata.name.clone().unwrap_or_default();
                        others.keda.insert(key_of_ref(&ns, &api_version, &kind, &name), so_name);
                    }
                }
            }
            Err(e) if not_installed(&e) => {}
            Err(e) => return Err(e),
        }
        let client = self.handler.client().clone();
        let hpas: Api<HorizontalPodAutoscaler> = match &scope {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::all(client),
        };
        match hpas.list(&ListParams::default()).await {
            Ok(list) => {
                for h in list.items {
                    let ns = h.metadata.namespace.clone().unwrap_or_default();
                    let r = h.spec.map(|s| s.scale_target_ref).unwrap_or_default();
                    let api_version = r.api_version.unwrap_or_default();
                    others
                        .hpa
                        .insert(key_of_ref(&ns, &api_version, &r.kind, &r.name), h.metadata.name.unwrap_or_default());
                }
            }
            Err(e) => tracing::debug!(error = %e, "cannot list HorizontalPodAutoscalers; not reported"),
        }
        Ok(others)
    }

    async fn sleep_one(&self, l: &Listed, others: &Others, dry_run: bool) -> FleetEntry {
        let t = &l.target;
        let key = key_of(t);
        if let Some(entry) = others.left_to_the_loop(l, &key) {
            return entry;
        }
        if l.count != Some(0)
            && let Some(so) = others.keda.get(&key)
            && let Err(e) = self.handler.keda_paused(so, Some(&t.namespace), true, dry_run).await
        {
            return FleetEntry { target: t.display(), namespace: t.namespace.clone(), outcome: Err(e), skipped: None };
        }
        let mut entry = self.handler.scale_listed(l, Intent::ToZero, dry_run).await;
        if let (Some(hpa), Ok(r)) = (others.hpa.get(&key), entry.outcome.as_mut()) {
            r.reason.push_str(&format!("; HorizontalPodAutoscaler {hpa} does not scale it while at 0"));
        }
        entry
    }

    async fn wake_one(&self, l: &Listed, others: &Others, dry_run: bool) -> FleetEntry {
        let t = &l.target;
        let key = key_of(t);
        if let Some(entry) = others.left_to_the_loop(l, &key) {
            return entry;
        }
        let remembered = l.annotations.get(PREVIOUS_REPLICAS_ANNOTATION).and_then(|v| v.parse::<i32>().ok());
        match (l.count, remembered) {
            (Some(0), None) => {
                let why = format!("nothing remembered ({PREVIOUS_REPLICAS_ANNOTATION}): left at 0");
                return FleetEntry::skipped(t, 0, why);
            }
            (Some(c), Some(n)) if c > 0 && c != n => {
                let why = format!("left at {c} replicas as someone set them while it slept (remembered {n})");
                return FleetEntry::skipped(t, c, why);
            }
            (Some(c), _) if c > 0 => return FleetEntry::unchanged(t, c, format!("awake at {c} replicas")),
            _ => {}
        }
        if l.count == Some(0)
            && let Some(so) = others.keda.get(&key)
            && let Err(e) = self.handler.keda_paused(so, Some(&t.namespace), false, dry_run).await
        {
            return FleetEntry { target: t.display(), namespace: t.namespace.clone(), outcome: Err(e), skipped: None };
        }
        self.handler.scale_listed(l, Intent::FromZero { min: 0, restore: true }, dry_run).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scale_target_ref_is_keyed_by_group_kind_and_name() {
        assert_eq!(
            key_of_ref("ns", "apps/v1", "Deployment", "web"),
            ("ns".into(), "apps".into(), "Deployment".into(), "web".into())
        );
        assert_eq!(key_of_ref("ns", "v1", "ReplicationController", "rc").1, "");
        let mut so = DynamicObject::new("so", &kube::api::ApiResource::erase::<HorizontalPodAutoscaler>(&()));
        so.data = serde_json::json!({"spec": {"scaleTargetRef": {"name": "web"}}});
        assert_eq!(scale_target_ref(&so), Some(("apps/v1".into(), "Deployment".into(), "web".into())));
        so.data = serde_json::json!({"spec": {"scaleTargetRef": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "r"}}});
        assert_eq!(scale_target_ref(&so).map(|r| r.1), Some("Rollout".into()));
        so.data = serde_json::json!({"spec": {}});
        assert_eq!(scale_target_ref(&so), None);
    }
}
