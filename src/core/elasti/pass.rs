//! One pass of the scale-to-zero loop: every ElastiService decided and acted on
//! (`check_and_scale`), or one (`check_and_scale_service`).
//!
//! A pass writes only what changed: a target already at the decided count, KEDA already in the
//! wanted state and an unchanged status cost reads only. `lastScaledUpTime` ("the last tick that
//! decided up") lives in memory and is persisted only when the stored value is older than a
//! quarter of the cooldown (see `status.rs`); the later of the remembered and the stored value
//! counts, so a scale-up written by another process (KubeElasti's resolver, a previous leader)
//! is honoured.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::{Api, Resource as _};

use crate::core::elasti::controller::Controller;
use crate::core::elasti::decision::{Direction, Facts, Step, TriggersSay, decide};
use crate::core::elasti::enabled_period::EnabledPeriod;
use crate::core::elasti::finalizer::has_finalizer;
use crate::core::elasti::resource::{AutoscalerType, DEFAULT_COOLDOWN, ElastiService, ElastiServiceSpec};
use crate::core::elasti::status::{MODE_PROXY, MODE_SERVE, persist_after};
use crate::core::error::{Error, Result};
use crate::core::scale::events::EventType;
use crate::core::scale::intent::Intent;
use crate::core::target::TargetRef;

/// The outcome of one pass for one ElastiService.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// The ElastiService API resource.
pub(crate) fn api_resource() -> ApiResource {
    ApiResource::erase::<ElastiService>(&())
}

/// The service's cooldown: `cooldownPeriod` seconds, where 0 (or less) means the 900 s default,
/// as the reference's `resolveCooldownPeriod` reads it.
pub fn cooldown(spec: &ElastiServiceSpec) -> Duration {
    let seconds = if spec.cooldown_period > 0 { spec.cooldown_period } else { DEFAULT_COOLDOWN };
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

pub(crate) fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
    now.duration_since(since).try_into().unwrap_or(Duration::ZERO)
}

/// A reference to an ElastiService (decoded or not), for Events.
fn reference_to(meta: &ObjectMeta) -> ObjectReference {
    ObjectReference {
        api_version: Some("elasti.truefoundry.com/v1alpha1".into()),
        kind: Some("ElastiService".into()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        ..Default::default()
    }
}

fn memory_key(es: &ElastiService) -> String {
    format!(
        "{}/{}/{}",
        es.metadata.namespace.as_deref().unwrap_or_default(),
        es.metadata.name.as_deref().unwrap_or_default(),
        es.metadata.uid.as_deref().unwrap_or_default()
    )
}

/// The last tick that decided up. A stored value newer than the one remembered here was written
/// by another process (KubeElasti's resolver, a previous leader): it counts as written. Else the
/// remembered one counts. With nothing remembered (a restart, a new leader), the stored value,
/// rewritten by the loop only every quarter cooldown, may stand for any time up to a quarter
/// cooldown later (never later than now): it is read that way.
fn last_scaled_up(
    remembered: Option<Timestamp>,
    stored: Option<Timestamp>,
    cooldown: Duration,
    now: Timestamp,
) -> Option<Timestamp> {
    match (remembered, stored) {
        (Some(r), Some(s)) if s > r => Some(s),
        (Some(r), _) => Some(r),
        (None, Some(s)) => Some(match s.checked_add(persist_after(cooldown)) {
            Ok(later) if later < now => later,
            _ => now,
        }),
        (None, None) => None,
    }
}

impl Controller {
    /// One pass over the ElastiServices of the watch namespace (all namespaces without one).
    pub async fn check_and_scale(&self) -> Result<Vec<Decision>> {
        self.check_open()?;
        let ar = api_resource();
        let client = self.handler.client().clone();
        let api: Api<DynamicObject> = match self.handler.watch_namespace() {
            Some(ns) => Api::namespaced_with(client, ns, &ar),
            None => Api::all_with(client, &ar),
        };
        let list = api.list(&ListParams::default()).await?;
        // Services are independent: decide them concurrently.
        let futures = list.items.into_iter().map(|obj| self.reconcile_object(obj));
        Ok(futures::future::join_all(futures).await)
    }

    /// One decision for one ElastiService (for operators that schedule services themselves).
    pub async fn check_and_scale_service(&self, name: &str, namespace: Option<&str>) -> Result<Decision> {
        self.check_open()?;
        crate::core::target::validate_name(&format!("elastiservice/{name}"), name)?;
        let ns = self.handler.namespace_for(namespace)?;
        let api: Api<DynamicObject> = Api::namespaced_with(self.handler.client().clone(), &ns, &api_resource());
        let obj = api.get(name).await?;
        Ok(self.reconcile_object(obj).await)
    }

    async fn reconcile_object(&self, obj: DynamicObject) -> Decision {
        let namespace = obj.metadata.namespace.clone().unwrap_or_default();
        let name = obj.metadata.name.clone().unwrap_or_default();
        let decision = |direction, reason: &str, error| Decision {
            namespace: namespace.clone(),
            name: name.clone(),
            direction,
            reason: reason.to_string(),
            error,
        };
        let decoded: std::result::Result<ElastiService, _> =
            serde_json::from_value(serde_json::to_value(&obj).unwrap_or_default());
        let es = match decoded {
            Ok(es) => es,
            Err(e) => {
                let message = format!("the ElastiService cannot be read: {e}");
                tracing::warn!(%namespace, %name, error = %message, "skipping a malformed ElastiService");
                let regarding = reference_to(&obj.metadata);
                self.handler
                    .record_quietly(EventType::Warning, "InvalidElastiService", message.clone(), &regarding)
                    .await;
                return decision(Direction::NoScale, "invalid object", Some(message));
            }
        };
        match self.reconcile(&es).await {
            Ok((direction, reason)) => decision(direction, &reason, None),
            Err(e) => {
                // A scaler's error may quote a URL with credentials (a Python scaler's too).
                let message = crate::core::redact::redact(&e.to_string());
                tracing::warn!(%namespace, %name, error = %message, "scale-to-zero decision failed");
                let regarding = reference_to(&es.metadata);
                self.handler.record_quietly(EventType::Warning, "FailedToScale", message.clone(), &regarding).await;
                decision(Direction::NoScale, "error", Some(message))
            }
        }
    }

    /// Decides and acts for one service.
    async fn reconcile(&self, es: &ElastiService) -> Result<(Direction, String)> {
        let spec = &es.spec;
        let namespace = es.metadata.namespace.clone().unwrap_or_default();
        if spec.triggers.is_empty() {
            return Err(Error::InvalidValue {
                field: "spec.triggers",
                problem: "the ElastiService has no triggers".into(),
            });
        }
        let target_ref = &spec.scale_target_ref;
        let target = TargetRef::from_parts(&target_ref.api_version, target_ref.normalized_kind(), &target_ref.name)?;
        if es.metadata.deletion_timestamp.is_some() {
            return self.release_on_deletion(es, &target).await;
        }
        let cooldown = cooldown(spec);
        let now = Timestamp::now();
        let created = es.meta().creation_timestamp.as_ref().map(|t| t.0).unwrap_or(now);
        let status = es.status.clone().unwrap_or_default();
        let key = memory_key(es);
        let remembered = self.last_up.lock().expect("memory poisoned").get(&key).copied();
        let stored = status.last_scaled_up_time.as_ref().map(|t| t.0);
        let last_up = last_scaled_up(remembered, stored, cooldown, now);

        let mut facts = Facts {
            triggers: spec.triggers.len(),
            age: elapsed(created, now),
            cooldown,
            since_last_up: last_up.map(|t| elapsed(t, now)),
            ..Default::default()
        };
        let es_ref = reference_to(&es.metadata);
        let (direction, reason) = loop {
            match decide(&facts) {
                Step::Decided(d, why) => break (d, why.to_string()),
                Step::NeedEnabled => {
                    let parsed = match &spec.enabled_period {
                        Some(p) => EnabledPeriod::parse(&p.schedule, &p.duration),
                        None => Ok(EnabledPeriod::default_period()),
                    };
                    match parsed {
                        Ok(period) => facts.enabled = Some(period.is_enabled(now)),
                        // As the reference: a period that cannot be read prevents scale-down.
                        Err(e) => {
                            tracing::warn!(%namespace, name = ?es.metadata.name, error = %e, "invalid enabledPeriod; keeping the target up");
                            let note = format!("{e}; scale-down is prevented until it is fixed");
                            self.handler
                                .record_quietly(EventType::Warning, "InvalidEnabledPeriod", note, &es_ref)
                                .await;
                            break (Direction::ScaleUp, format!("the enabled period is invalid ({e})"));
                        }
                    }
                }
                Step::NeedTriggers => facts.triggers_say = Some(self.ask_triggers(&key, spec, cooldown).await?),
            }
        };
        let mut mode = None;
        match direction {
            Direction::ScaleUp => {
                self.last_up.lock().expect("memory poisoned").insert(key, now);
                if let Some(a) = spec.autoscaler.as_ref().filter(|a| a.type_ == AutoscalerType::Keda) {
                    self.handler.set_keda_paused(&a.name, Some(&namespace), false).await?;
                }
                let intent = Intent::FromZero { min: spec.min_target_replicas.max(1), restore: true };
                let o = self.handler.scale_with(&target, Some(&namespace), intent, false, Some(&es_ref)).await?;
                mode = Some(if o.replicas == 0 { MODE_PROXY } else { MODE_SERVE });
                self.set_finalizer(es, false).await?;
            }
            Direction::ScaleDown => {
                // Held at zero from here on: deleting the service must restore the target.
                self.set_finalizer(es, true).await?;
                if let Some(a) = spec.autoscaler.as_ref().filter(|a| a.type_ == AutoscalerType::Keda) {
                    self.handler.set_keda_paused(&a.name, Some(&namespace), true).await?;
                }
                self.handler.scale_with(&target, Some(&namespace), Intent::ToZero, false, Some(&es_ref)).await?;
                mode = Some(MODE_PROXY);
            }
            Direction::NoScale => {}
        }
        self.write_status(es, &status, direction, mode, now, cooldown).await?;
        Ok((direction, reason))
    }

    /// A service being deleted: if kubescale holds its target at zero (its finalizer is there),
    /// restores the target (the remembered count, at least `minTargetReplicas`), resumes KEDA,
    /// then lets the object go.
    async fn release_on_deletion(&self, es: &ElastiService, target: &TargetRef) -> Result<(Direction, String)> {
        if !has_finalizer(es) {
            return Ok((Direction::NoScale, "the service is being deleted".into()));
        }
        let spec = &es.spec;
        let namespace = es.metadata.namespace.clone().unwrap_or_default();
        let es_ref = reference_to(&es.metadata);
        if let Some(a) = spec.autoscaler.as_ref().filter(|a| a.type_ == AutoscalerType::Keda) {
            self.handler.set_keda_paused(&a.name, Some(&namespace), false).await?;
        }
        let intent = Intent::FromZero { min: spec.min_target_replicas.max(1), restore: true };
        let restored = match self.handler.scale_with(target, Some(&namespace), intent, false, Some(&es_ref)).await {
            Ok(o) => format!("the service is being deleted: target restored to {} replicas", o.replicas),
            // A target deleted too has nothing to restore; the service may go.
            Err(e) if e.is_not_found() => "the service is being deleted; its target is gone".into(),
            Err(e) => return Err(e),
        };
        self.set_finalizer(es, false).await?;
        Ok((Direction::ScaleUp, restored))
    }

    /// Asks the triggers in the reference's order: per trigger, health and then readiness for
    /// zero; the first unhealthy one, or the first that wants the target up, decides. Each
    /// scaler is closed after its questions.
    async fn ask_triggers(&self, service: &str, spec: &ElastiServiceSpec, cooldown: Duration) -> Result<TriggersSay> {
        // A place among the scaler evaluations running at once (never closed: never an error).
        let _place = self.evaluations.acquire().await;
        for (i, t) in spec.triggers.iter().enumerate() {
            let metadata = t.metadata.clone().unwrap_or(serde_json::Value::Object(Default::default()));
            let trigger = format!("{service}#{i}");
            let scaler = self.scalers.get(&t.type_)?.create(&trigger, metadata, cooldown).await?;
            let answer = async {
                if !scaler.is_healthy().await? {
                    return Ok(Some(TriggersSay::Unhealthy));
                }
                Ok::<_, Error>((!scaler.should_scale_to_zero().await?).then_some(TriggersSay::WantsUp))
            }
            .await;
            if let Err(e) = scaler.close().await {
                tracing::debug!(trigger = %t.type_, error = %e, "closing a scaler failed");
            }
            if let Some(say) = answer? {
                return Ok(say);
            }
        }
        Ok(TriggersSay::AllowZero)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn zero_cooldown_means_the_default() {
        let mut spec: ElastiServiceSpec = serde_json::from_value(serde_json::json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "service": "web",
            "cooldownPeriod": 0,
        }))
        .unwrap();
        assert_eq!(cooldown(&spec), Duration::from_secs(900));
        spec.cooldown_period = 60;
        assert_eq!(cooldown(&spec), Duration::from_secs(60));
    }

    #[test]
    fn the_later_scale_up_counts() {
        let now = at("2026-11-29T12:00:00Z");
        let cooldown = Duration::from_secs(400);
        // Stored by another process after the one remembered here: the stored one counts.
        let remembered = Some(at("2026-11-29T11:00:00Z"));
        let stored = Some(at("2026-11-29T11:59:00Z"));
        assert_eq!(last_scaled_up(remembered, stored, cooldown, now), stored);
        // Our own, older write: memory counts.
        let stored_old = Some(at("2026-11-29T10:00:00Z"));
        assert_eq!(last_scaled_up(remembered, stored_old, cooldown, now), remembered);
        // After a restart: read as up to a quarter cooldown later, never after now.
        assert_eq!(last_scaled_up(None, stored_old, cooldown, now), Some(at("2026-11-29T10:01:40Z")));
        assert_eq!(last_scaled_up(None, stored, cooldown, now), Some(now));
        assert_eq!(last_scaled_up(None, None, cooldown, now), None);
    }
}
