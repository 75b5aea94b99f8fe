//! One pass of the scale-to-zero loop: every ElastiService decided and acted on
//! (`check_and_scale`), or one (`check_and_scale_service`).
//!
//! A pass writes only what changed: a target already at the decided count, KEDA already in the
//! wanted state and an unchanged status cost reads only. `lastScaledUpTime` ("the last tick that
//! decided up") lives in memory and is persisted only when the stored value is older than a
//! quarter of the cooldown (see `status.rs`); the later of the remembered and the stored value
//! counts, so a scale-up written by another process (KubeElasti's resolver, a previous leader)
//! is honoured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource as _;
use kube::api::{DynamicObject, ListParams};

use crate::core::elasti::act_order::{ActOrder, Hold};
use crate::core::elasti::cold_start::WakeUp;
use crate::core::elasti::controller::Controller;
use crate::core::elasti::decision::{Answer, Decision, Direction, decide_service};
use crate::core::elasti::finalizer::{FINALIZER, has_finalizer};
use crate::core::elasti::pass_context::PassContext;
use crate::core::elasti::resource::{ElastiService, ElastiServiceSpec};
use crate::core::elasti::service_api::{decode, keda_of, reference_to};
use crate::core::elasti::status::{MODE_PROXY, MODE_SERVE, persist_after};
use crate::core::error::{Error, Result};
use crate::core::metrics::{ShardLabel, TriggerLabel, metrics};
use crate::core::scale::events::EventType;
use crate::core::scale::intent::Intent;
use crate::core::scale::operations::ScaleResult;
use crate::core::target::TargetRef;

/// How long the first pass of `run` waits for its watches to fill.
const WARM_UP: Duration = Duration::from_secs(10);

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
pub(crate) fn last_scaled_up(
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

/// What one service's reconcile came to: the direction, why, and what was done (or, in a dry
/// run, would be done).
struct Outcome {
    direction: Direction,
    reason: String,
    actions: Vec<String>,
}

impl Controller {
    /// One pass over the ElastiServices of the watch namespace (all namespaces without one).
    /// With `dry_run` it decides exactly as a real pass and writes nothing (no scale, KEDA
    /// annotation, status, Event or finalizer); each decision lists what it would have done.
    ///
    /// While a [`run`](Self::run) is live on the same handler, a pass made by hand acts under
    /// that run's ownership, never on a service another replica owns: with shards, only on
    /// the services of the shards this replica holds (the others are left out of the result);
    /// with leader election, only while this process holds the Lease (else every decision is
    /// "not the leader" and nothing is written). It decides from the run's watches while it
    /// keeps them. With no run live, it acts on every service, reading them from the server.
    pub async fn check_and_scale(&self, dry_run: bool) -> Result<Vec<Decision>> {
        self.full_pass(&self.live_context(), dry_run).await
    }

    /// A pass over every service in `ctx`'s scope.
    pub(crate) async fn full_pass(&self, ctx: &PassContext, dry_run: bool) -> Result<Vec<Decision>> {
        self.check_open()?;
        let started = std::time::Instant::now();
        let objects = match self.services_now(ctx).await {
            Ok(l) => l,
            Err(e) => {
                metrics().error("pass");
                return Err(e);
            }
        };
        // Services are independent: decide them concurrently; the scale-ups act first.
        let order = ActOrder::new(objects.len());
        let futures = objects.iter().map(|obj| self.reconcile_owned(ctx, obj, dry_run, order.hold()));
        let decisions: Vec<Decision> = futures::future::join_all(futures).await.into_iter().flatten().collect();
        // The pass's Events are written by the time it returns.
        self.handler.flush_events().await;
        metrics().passes.inc();
        metrics().pass_duration.observe(started.elapsed().as_secs_f64());
        Ok(decisions)
    }

    /// The ElastiServices: from the watch while `run` keeps one (the first pass waits for it and
    /// for the watches of the types its services use to fill), else from a LIST.
    async fn services_now(&self, ctx: &PassContext) -> Result<Vec<Arc<DynamicObject>>> {
        if let Some(w) = &ctx.watch {
            if !w.warmed.swap(true, std::sync::atomic::Ordering::AcqRel) && w.services.ready(WARM_UP).await {
                let services: Vec<ElastiService> =
                    w.services.list().unwrap_or_default().iter().filter_map(|o| decode(o).ok()).collect();
                for es in &services {
                    self.watch_types_of_service(es).await;
                }
                self.handler.watches_ready(WARM_UP).await;
                self.learn_target_counts(&services).await;
            }
            if let Some(list) = w.services.list() {
                return Ok(list);
            }
        }
        Ok(self.services_watched().list(&ListParams::default()).await?.items.into_iter().map(Arc::new).collect())
    }

    /// Decides the services created or edited since the last pass (seen by the watch), at once.
    pub(crate) async fn changed_pass(&self, ctx: &PassContext, dry_run: bool) -> Result<Vec<Decision>> {
        let changed = ctx.watch.as_ref().map(|w| w.take_changed()).unwrap_or_default();
        let order = ActOrder::new(changed.len());
        let futures = changed.iter().map(|(ns, name)| self.check_service(ctx, name, Some(ns), dry_run, order.hold()));
        let decisions = futures::future::join_all(futures).await;
        // A service deleted meanwhile has nothing to decide; another replica's shard is not ours.
        Ok(decisions.into_iter().filter_map(|d| d.ok().flatten()).collect())
    }

    /// Decides `obj` unless `ctx`'s scope gives it to another replica (its shard is not held),
    /// in the fence of its place (the Lease's, or its shard's): its writes go out only while
    /// that is held.
    async fn reconcile_owned(
        &self,
        ctx: &PassContext,
        obj: &DynamicObject,
        dry_run: bool,
        hold: Hold<'_>,
    ) -> Option<Decision> {
        let (ns, name) = (obj.metadata.namespace.as_deref().unwrap_or_default(), obj.metadata.name.as_deref());
        let place = ctx.scope.place_of(ns, name.unwrap_or_default())?;
        let decide = self.reconcile_object(ctx, obj, dry_run, hold);
        let mut decision = match place.fence {
            Some(fence) => crate::core::fence::scope(fence, decide).await,
            None => decide.await,
        };
        if let Some(shard) = place.shard {
            decision.shard = Some(shard);
            metrics().shard_decisions.get_or_create(&ShardLabel { shard: shard.to_string() }).inc();
        }
        Some(decision)
    }

    /// One decision for one ElastiService (for operators that schedule services themselves).
    /// While a [`run`](Self::run) is live on the same handler it acts under that run's
    /// ownership, as [`check_and_scale`](Self::check_and_scale) does: a service of a shard
    /// another replica holds is not acted on (its decision says so).
    pub async fn check_and_scale_service(
        &self,
        name: &str,
        namespace: Option<&str>,
        dry_run: bool,
    ) -> Result<Decision> {
        self.check_open()?;
        crate::core::target::validate_name(&format!("elastiservice/{name}"), name)?;
        let ctx = self.live_context();
        let obj = self.service_object(&ctx, name, namespace).await?;
        let order = ActOrder::new(1);
        let decision = match self.reconcile_owned(&ctx, &obj, dry_run, order.hold()).await {
            Some(d) => d,
            None => {
                Decision::of(&obj.metadata, Direction::NoScale, "another replica's shard", None, Vec::new(), dry_run)
            }
        };
        self.handler.flush_events().await;
        Ok(decision)
    }

    /// The ElastiService `name`: from the watch while `run` keeps one, else from the server.
    async fn service_object(
        &self,
        ctx: &PassContext,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<Arc<DynamicObject>> {
        let ns = self.handler.namespace_for(namespace)?;
        if let Some(o) = ctx.watch.as_ref().and_then(|w| w.services.get(&ns, name)).flatten() {
            return Ok(o);
        }
        Ok(Arc::new(self.services_in(&ns).get(name).await?))
    }

    /// [`check_and_scale_service`](Self::check_and_scale_service) for a pass: `None` when the
    /// service is another replica's (a sharded run).
    async fn check_service(
        &self,
        ctx: &PassContext,
        name: &str,
        namespace: Option<&str>,
        dry_run: bool,
        hold: Hold<'_>,
    ) -> Result<Option<Decision>> {
        self.check_open()?;
        let obj = self.service_object(ctx, name, namespace).await?;
        Ok(self.reconcile_owned(ctx, &obj, dry_run, hold).await)
    }

    /// Records a Warning Event regarding the service, unless this is a dry run.
    fn warn(&self, dry_run: bool, reason: &str, note: String, regarding: &ObjectReference) {
        if !dry_run {
            self.handler.record_quietly(EventType::Warning, reason, note, regarding);
        }
    }

    async fn reconcile_object(
        &self,
        ctx: &PassContext,
        obj: &DynamicObject,
        dry_run: bool,
        mut hold: Hold<'_>,
    ) -> Decision {
        let namespace = obj.metadata.namespace.clone().unwrap_or_default();
        let name = obj.metadata.name.clone().unwrap_or_default();
        let decision = |direction: Direction, reason: &str, error, actions| {
            if !dry_run {
                metrics().decided(&namespace, &name, direction.as_str(), reason);
            }
            Decision::of(&obj.metadata, direction, reason, error, actions, dry_run)
        };
        // A pass whose Lease lapsed stops before asking anything (its writes would be refused).
        if let Err(e) = crate::core::fence::check_current() {
            return decision(Direction::NoScale, "not the leader", Some(e.to_string()), Vec::new());
        }
        // Deletion first, before the spec is read for deciding: it always completes.
        if obj.metadata.deletion_timestamp.is_some() {
            if !has_finalizer(&obj.metadata) {
                return decision(Direction::NoScale, "the service is being deleted", None, Vec::new());
            }
            return match self.release_held(obj, dry_run).await {
                Ok(r) => decision(r.direction(), &r.reason("the service is being deleted"), None, r.actions),
                Err(e) => {
                    let message = crate::core::redact::redact(&e.to_string());
                    tracing::warn!(%namespace, %name, error = %message, "restoring the target of a deleted ElastiService failed; retried next pass");
                    metrics().error(e.kind());
                    decision(Direction::NoScale, "error", Some(message), Vec::new())
                }
            };
        }
        let es = match decode(obj) {
            Ok(es) => es,
            Err(e) => {
                let message = format!("the ElastiService cannot be read: {e}");
                tracing::warn!(%namespace, %name, error = %message, "skipping a malformed ElastiService");
                metrics().error("invalid_object");
                self.warn(dry_run, "InvalidElastiService", message.clone(), &reference_to(&obj.metadata));
                return decision(Direction::NoScale, "invalid object", Some(message), Vec::new());
            }
        };
        match self.reconcile(ctx, &es, dry_run, &mut hold).await {
            Ok(o) => decision(o.direction, &o.reason, None, o.actions),
            Err(e @ Error::LeaseLost(_)) => {
                tracing::info!(%namespace, %name, error = %e, "decision not carried out");
                decision(Direction::NoScale, "not the leader", Some(e.to_string()), Vec::new())
            }
            Err(e) => {
                // A scaler's error may quote a URL with credentials (a Python scaler's too).
                let message = crate::core::redact::redact(&e.to_string());
                tracing::warn!(%namespace, %name, error = %message, "scale-to-zero decision failed");
                metrics().error(e.kind());
                self.warn(dry_run, "FailedToScale", message.clone(), &reference_to(&es.metadata));
                decision(Direction::NoScale, "error", Some(message), Vec::new())
            }
        }
    }

    /// Decides and acts (or, dry, describes) for one service: a scale-up at once, any other
    /// decision once the pass's scale-ups are done (`hold`).
    async fn reconcile(
        &self,
        ctx: &PassContext,
        es: &ElastiService,
        dry_run: bool,
        hold: &mut Hold<'_>,
    ) -> Result<Outcome> {
        let spec = &es.spec;
        if spec.triggers.is_empty() {
            return Err(Error::InvalidValue {
                field: "spec.triggers",
                problem: "the ElastiService has no triggers".into(),
            });
        }
        let target_ref = &spec.scale_target_ref;
        let target = TargetRef::from_parts(&target_ref.api_version, target_ref.normalized_kind(), &target_ref.name)?;
        if ctx.watch.is_some() {
            self.watch_types_of(&target, keda_of(es).is_some()).await;
        }
        let cooldown = spec.cooldown();
        let now = Timestamp::now();
        let key = memory_key(es);
        let (direction, reason) = match self.restored_by_others(es, &target).await? {
            Some(n) => (Direction::ScaleUp, format!("restored to {n} replicas by someone else; counted as a scale-up")),
            None => self.decide(es, &key, cooldown, now, dry_run).await?,
        };
        if direction != Direction::ScaleUp {
            hold.after_scale_ups().await;
        }
        let mut actions = Vec::new();
        let mode = self.act(ctx, es, &target, direction, dry_run, &mut actions).await?;
        if !dry_run {
            if direction == Direction::ScaleUp {
                self.last_up.lock().expect("memory poisoned").insert(key.clone(), now);
            }
            self.write_status(&key, es, direction, mode, now, cooldown).await?;
        }
        Ok(Outcome { direction, reason, actions })
    }

    /// A target the loop held at zero (`mode: proxy`) that someone else brought back (a person
    /// with `kubectl scale`, KubeElasti's resolver, a deploy): its count. That counts as a
    /// scale-up now, so the loop honours the cooldown after it instead of taking the target
    /// straight back to zero. Free in a steady state (the target's watch answers).
    async fn restored_by_others(&self, es: &ElastiService, target: &TargetRef) -> Result<Option<i32>> {
        if es.status.as_ref().and_then(|s| s.mode.as_deref()) != Some(MODE_PROXY) {
            return Ok(None);
        }
        let n = self.handler.desired_count(target, es.metadata.namespace.as_deref()).await?;
        Ok((n > 0).then_some(n))
    }

    /// The decision table, fed with the facts it asks for ([`decide_service`]); `key` names the
    /// service in the loop's memory (`namespace/name/uid`).
    async fn decide(
        &self,
        es: &ElastiService,
        key: &str,
        cooldown: Duration,
        now: Timestamp,
        dry_run: bool,
    ) -> Result<(Direction, String)> {
        let spec = &es.spec;
        let created = es.meta().creation_timestamp.as_ref().map(|t| t.0).unwrap_or(now);
        let remembered = self.last_up.lock().expect("memory poisoned").get(key).copied();
        let stored = es.status.as_ref().and_then(|s| s.last_scaled_up_time.as_ref()).map(|t| t.0);
        let last_up = last_scaled_up(remembered, stored, cooldown, now);
        let ask = || self.ask_triggers(key, spec, cooldown);
        let verdict = decide_service(spec, cooldown, created, last_up, now, ask).await?;
        if let Some(e) = &verdict.invalid_period {
            tracing::warn!(namespace = ?es.metadata.namespace, name = ?es.metadata.name, error = %e, "invalid enabledPeriod; keeping the target up");
            let note = format!("{e}; scale-down is prevented until it is fixed");
            self.warn(dry_run, "InvalidEnabledPeriod", note, &reference_to(&es.metadata));
        }
        Ok((verdict.direction, verdict.reason))
    }

    /// Carries out what was decided, or (dry) only says what it would do; returns the mode the
    /// target ends in. A scale-up from zero is measured, from here, until the target is ready
    /// (see `cold_start.rs`).
    async fn act(
        &self,
        ctx: &PassContext,
        es: &ElastiService,
        target: &TargetRef,
        direction: Direction,
        dry_run: bool,
        actions: &mut Vec<String>,
    ) -> Result<Option<&'static str>> {
        let spec = &es.spec;
        let up = direction == Direction::ScaleUp;
        match direction {
            Direction::NoScale => Ok(None),
            Direction::ScaleUp => {
                let decided = Instant::now();
                self.keda_step(es, false, dry_run, actions).await?;
                let intent = direction.intent(spec).expect("a scale-up has an intent");
                let scaled = self.scale_step(&es.metadata, target, intent, dry_run, actions).await?;
                if !dry_run && scaled.changed && scaled.previous == 0 && scaled.replicas > 0 {
                    self.measure_wake_up(WakeUp {
                        target: target.clone(),
                        namespace: es.metadata.namespace.clone().unwrap_or_default(),
                        wrote: scaled.replicas,
                        decided,
                        written: Instant::now(),
                        regarding: reference_to(&es.metadata),
                        limit: ctx.cold_start_timeout,
                    });
                }
                self.finalizer_step(es, !up, dry_run, actions).await?;
                Ok(Some(if scaled.replicas == 0 { MODE_PROXY } else { MODE_SERVE }))
            }
            Direction::ScaleDown => {
                // Held at zero from here on: deleting the service must restore the target.
                self.finalizer_step(es, !up, dry_run, actions).await?;
                self.keda_step(es, true, dry_run, actions).await?;
                let intent = direction.intent(spec).expect("a scale-down has an intent");
                self.scale_step(&es.metadata, target, intent, dry_run, actions).await?;
                Ok(Some(MODE_PROXY))
            }
        }
    }

    /// Pauses or resumes the service's KEDA ScaledObject, if it names one.
    async fn keda_step(&self, es: &ElastiService, pause: bool, dry_run: bool, actions: &mut Vec<String>) -> Result<()> {
        let Some(a) = keda_of(es) else { return Ok(()) };
        if self.handler.keda_paused(&a.name, es.metadata.namespace.as_deref(), pause, dry_run).await? {
            actions.push(format!("{} KEDA {}", if pause { "pause" } else { "resume" }, a.name));
        }
        Ok(())
    }

    /// Scales the target of the service `meta` names (Event regarding the service); returns
    /// what it did. Dry, it only plans: the count it would end at, the action listed.
    pub(crate) async fn scale_step(
        &self,
        meta: &ObjectMeta,
        target: &TargetRef,
        intent: Intent,
        dry_run: bool,
        actions: &mut Vec<String>,
    ) -> Result<ScaleResult> {
        let ns = meta.namespace.as_deref();
        if dry_run {
            let planned = self.handler.plan_scale(target, ns, intent).await?;
            let (target, previous, replicas) = planned.unwrap_or_else(|| {
                let n = intent.nominal();
                (target.to_string(), n, n)
            });
            let changed = previous != replicas;
            if changed {
                actions.push(format!("scale {target} {previous} \u{2192} {replicas}"));
            }
            return Ok(ScaleResult { target, previous, replicas, changed, reason: "dry run".into() });
        }
        let o = self.handler.scale_with(target, ns, intent, false, Some(&reference_to(meta))).await?;
        if o.changed {
            actions.push(format!("scale {} {} \u{2192} {}", o.target, o.previous, o.replicas));
        }
        Ok(o)
    }

    /// Adds or removes kubescale's finalizer where that changes it.
    async fn finalizer_step(
        &self,
        es: &ElastiService,
        present: bool,
        dry_run: bool,
        actions: &mut Vec<String>,
    ) -> Result<()> {
        if has_finalizer(&es.metadata) != present {
            actions.push(format!("{} finalizer {FINALIZER}", if present { "add" } else { "remove" }));
            if !dry_run {
                self.set_finalizer(&es.metadata, present).await?;
            }
        }
        Ok(())
    }

    /// Asks the triggers in the reference's order: per trigger, health and then readiness for
    /// zero; the first unhealthy one, or the first that wants the target up, decides. Each
    /// scaler is closed after its questions.
    async fn ask_triggers(&self, service: &str, spec: &ElastiServiceSpec, cooldown: Duration) -> Result<Answer> {
        // A place among the scaler evaluations running at once (never closed: never an error).
        let _place = self.evaluations.acquire().await;
        for (i, t) in spec.triggers.iter().enumerate() {
            let metadata = t.metadata.clone().unwrap_or(serde_json::Value::Object(Default::default()));
            let trigger = format!("{service}#{i}");
            let asked = std::time::Instant::now();
            let answer = self.scalers.get(&t.type_)?.ask(&trigger, metadata, cooldown).await;
            metrics()
                .scaler_calls
                .get_or_create(&TriggerLabel { trigger: t.type_.clone() })
                .observe(asked.elapsed().as_secs_f64());
            let answer = answer?;
            if answer != Answer::AllowsZero {
                return Ok(answer);
            }
        }
        Ok(Answer::AllowsZero)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
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
