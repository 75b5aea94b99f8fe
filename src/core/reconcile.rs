//! The scale-to-zero loop over ElastiService objects: one pass (`check_and_scale`) and the
//! endless `run`, with optional leader election.
//!
//! A pass writes only what changed: a target already at the decided count, KEDA already in the
//! wanted state and an unchanged status cost reads only. `lastScaledUpTime` ("the last tick that
//! decided up") lives in memory and is persisted only when the stored value is older than a
//! quarter of the cooldown; after a restart the stored value is read conservatively (as if the
//! last scale-up were a quarter cooldown later than stored).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Api, Resource as _};

use crate::core::decision::{Direction, Facts, Step, decide};
use crate::core::elastiservice::{AutoscalerType, ElastiService, ElastiServiceStatus};
use crate::core::enabled_period::EnabledPeriod;
use crate::core::error::{Error, Result};
use crate::core::events::EventType;
use crate::core::handler::ScaleHandler;
use crate::core::scalers::Scaler;
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

/// Mode of a target at zero.
const MODE_PROXY: &str = "proxy";
/// Mode of a serving target.
const MODE_SERVE: &str = "serve";

fn api_resource() -> ApiResource {
    ApiResource::erase::<ElastiService>(&())
}

/// How stale the stored `lastScaledUpTime` may get before it is rewritten: a quarter cooldown
/// (never, with no cooldown: then it does not matter to any decision).
fn persist_after(cooldown: Duration) -> Duration {
    if cooldown.is_zero() { Duration::MAX } else { cooldown / 4 }
}

/// How stale `lastReconciledTime` may get when nothing else in the status changes.
fn heartbeat_after(cooldown: Duration) -> Duration {
    (cooldown / 4).max(Duration::from_secs(300))
}

fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
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

/// Runs `f` on every scaler concurrently; `Ok(true)` when all answer true.
async fn all_true<'a, F>(scalers: &'a [(String, Box<dyn Scaler>)], f: F) -> Result<bool>
where
    F: Fn(&'a dyn Scaler) -> futures::future::BoxFuture<'a, Result<bool>>,
{
    let answers = futures::future::join_all(scalers.iter().map(|(_, s)| f(s.as_ref()))).await;
    let mut all = true;
    for a in answers {
        all &= a?;
    }
    Ok(all)
}

impl ScaleHandler {
    /// One pass over the ElastiServices of the watch namespace (all namespaces without one).
    pub async fn check_and_scale(&self) -> Result<Vec<Decision>> {
        self.check_open()?;
        let ar = api_resource();
        let api: Api<DynamicObject> = match self.watch_namespace() {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        };
        let list = api.list(&ListParams::default()).await?;
        let mut decisions = Vec::with_capacity(list.items.len());
        // Services are independent: decide them concurrently.
        let futures = list.items.into_iter().map(|obj| self.reconcile_object(obj));
        for d in futures::future::join_all(futures).await {
            decisions.push(d);
        }
        Ok(decisions)
    }

    /// One decision for one ElastiService (for operators that schedule services themselves).
    pub async fn check_and_scale_service(&self, name: &str, namespace: Option<&str>) -> Result<Decision> {
        self.check_open()?;
        crate::core::target::validate_name(&format!("elastiservice/{name}"), name)?;
        let ns = self.namespace_for(namespace)?;
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &ns, &api_resource());
        let obj = api.get(name).await?;
        Ok(self.reconcile_object(obj).await)
    }

    async fn reconcile_object(&self, obj: DynamicObject) -> Decision {
        let namespace = obj.metadata.namespace.clone().unwrap_or_default();
        let name = obj.metadata.name.clone().unwrap_or_default();
        let decoded: std::result::Result<ElastiService, _> =
            serde_json::from_value(serde_json::to_value(&obj).unwrap_or_default());
        let es = match decoded {
            Ok(es) => es,
            Err(e) => {
                let message = format!("the ElastiService cannot be read: {e}");
                tracing::warn!(%namespace, %name, error = %message, "skipping a malformed ElastiService");
                let regarding = reference_to(&obj.metadata);
                self.record_quietly(EventType::Warning, "InvalidElastiService", message.clone(), &regarding).await;
                return Decision {
                    namespace,
                    name,
                    direction: Direction::NoScale,
                    reason: "invalid object".into(),
                    error: Some(message),
                };
            }
        };
        match self.reconcile(&es).await {
            Ok((direction, reason)) => Decision { namespace, name, direction, reason, error: None },
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(%namespace, %name, error = %message, "scale-to-zero decision failed");
                self.record_quietly(EventType::Warning, "FailedToScale", message.clone(), &reference_to(&es.metadata))
                    .await;
                Decision {
                    namespace,
                    name,
                    direction: Direction::NoScale,
                    reason: "error".into(),
                    error: Some(message),
                }
            }
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
        let cooldown = Duration::from_secs(u64::try_from(spec.cooldown_period.max(0)).unwrap_or(0));
        let now = Timestamp::now();
        let created = es.meta().creation_timestamp.as_ref().map(|t| t.0).unwrap_or(now);
        let status = es.status.clone().unwrap_or_default();
        let key = Self::memory_key(es);
        let remembered = self.last_up.lock().expect("memory poisoned").get(&key).copied();
        let stored_up = status.last_scaled_up_time.as_ref().map(|t| t.0);
        // Unknown in memory (a restart, a new leader): assume the latest time the stored value
        // may stand for, since it is rewritten only every quarter cooldown.
        let conservative = stored_up.map(|t| match t.checked_add(cooldown / 4) {
            Ok(later) if later < now => later,
            _ => now,
        });
        let last_up = remembered.or(conservative);

        let mut facts = Facts {
            triggers: spec.triggers.len(),
            age: elapsed(created, now),
            cooldown,
            since_last_up: last_up.map(|t| elapsed(t, now)),
            ..Default::default()
        };
        let mut scalers: Vec<(String, Box<dyn Scaler>)> = Vec::new();
        let outcome = loop {
            match decide(&facts) {
                Step::Decided(d, why) => break Ok((d, why.to_string())),
                Step::NeedEnabled => {
                    let period = match &spec.enabled_period {
                        Some(p) => EnabledPeriod::parse(&p.schedule, &p.duration)?,
                        None => EnabledPeriod::default_period(),
                    };
                    facts.enabled = Some(period.is_enabled(now));
                }
                Step::NeedHealth => {
                    let mut failed = None;
                    for t in &spec.triggers {
                        let metadata = t.metadata.clone().unwrap_or(serde_json::Value::Object(Default::default()));
                        let created = match self.scalers.get(&t.type_) {
                            Ok(factory) => factory.create(metadata, cooldown).await,
                            Err(e) => Err(e),
                        };
                        match created {
                            Ok(s) => scalers.push((t.type_.clone(), s)),
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    if let Some(e) = failed {
                        break Err(e);
                    }
                    match all_true(&scalers, |s| s.is_healthy()).await {
                        Ok(h) => facts.all_healthy = Some(h),
                        Err(e) => break Err(e),
                    }
                }
                Step::NeedReadiness => match all_true(&scalers, |s| s.should_scale_to_zero()).await {
                    Ok(z) => facts.all_ready_for_zero = Some(z),
                    Err(e) => break Err(e),
                },
            }
        };
        for (type_, s) in &scalers {
            if let Err(e) = s.close().await {
                tracing::debug!(trigger = %type_, error = %e, "closing a scaler failed");
            }
        }
        let (direction, reason) = outcome?;
        let es_ref = reference_to(&es.metadata);
        let mut mode = None;
        match direction {
            Direction::ScaleUp => {
                self.last_up.lock().expect("memory poisoned").insert(key, now);
                if let Some(a) = spec.autoscaler.as_ref().filter(|a| a.type_ == AutoscalerType::Keda) {
                    self.set_keda_paused(&a.name, Some(&namespace), false).await?;
                }
                let min = spec.min_target_replicas.max(1);
                let o = self.scale_from_zero_for(&target, min, Some(&namespace), true, Some(&es_ref)).await?;
                mode = Some(if o.replicas == 0 { MODE_PROXY } else { MODE_SERVE });
            }
            Direction::ScaleDown => {
                if let Some(a) = spec.autoscaler.as_ref().filter(|a| a.type_ == AutoscalerType::Keda) {
                    self.set_keda_paused(&a.name, Some(&namespace), true).await?;
                }
                self.scale_to_zero_for(&target, Some(&namespace), Some(&es_ref)).await?;
                mode = Some(MODE_PROXY);
            }
            Direction::NoScale => {}
        }
        self.write_status(es, &status, direction, mode, now, cooldown).await?;
        Ok((direction, reason))
    }

    /// Patches the status only where it changed (or went stale).
    async fn write_status(
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
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &api_resource());
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

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Time between passes.
    pub polling_interval: Duration,
    /// Compete for a Lease and act only while holding it.
    pub leader_election: bool,
    /// Lease name.
    pub lease_name: String,
    /// Lease namespace (default: the handler's default namespace).
    pub lease_namespace: Option<String>,
    /// How long a Lease holds without renewal.
    pub lease_duration: Duration,
    /// Identity in the Lease (default: `$POD_NAME`/`$HOSTNAME` plus the process id).
    pub identity: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            polling_interval: Duration::from_secs(30),
            leader_election: false,
            lease_name: "kubescale-scale-to-zero".into(),
            lease_namespace: None,
            lease_duration: Duration::from_secs(15),
            identity: None,
        }
    }
}

/// The polling interval from `$POLLING_INTERVAL` (a Go duration such as `30s`), as the
/// reference reads it: unset, invalid or non-positive gives a warning (except unset) and 30 s.
pub fn polling_interval_from_env() -> Duration {
    let default = Duration::from_secs(30);
    match std::env::var("POLLING_INTERVAL") {
        Err(_) => default,
        Ok(v) => match crate::core::enabled_period::parse_duration("POLLING_INTERVAL", &v) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "invalid POLLING_INTERVAL; using 30s");
                default
            }
        },
    }
}

impl ScaleHandler {
    /// Runs passes every `polling_interval` until the handler is closed (or the future dropped);
    /// on a closed handler it returns at once. With leader election only the Lease holder runs
    /// passes; the Lease is renewed every third of its duration and released on the way out.
    pub async fn run(&self, opts: RunOptions) -> Result<()> {
        if opts.polling_interval.is_zero() {
            return Err(Error::InvalidValue { field: "polling_interval", problem: "must be positive".into() });
        }
        let elector = if opts.leader_election {
            let ns = self.namespace_for(opts.lease_namespace.as_deref())?;
            crate::core::target::validate_name(&format!("lease/{}", opts.lease_name), &opts.lease_name)?;
            let identity = opts.identity.clone().unwrap_or_else(|| {
                let host = std::env::var("POD_NAME")
                    .or_else(|_| std::env::var("HOSTNAME"))
                    .unwrap_or_else(|_| "kubescale".into());
                format!("{host}-{}", std::process::id())
            });
            Some(crate::core::leader::LeaderElector::new(
                self.client.clone(),
                &ns,
                &opts.lease_name,
                identity,
                opts.lease_duration,
            ))
        } else {
            None
        };
        let renew_every = opts.lease_duration / 3;
        let mut next_pass = tokio::time::Instant::now();
        let result = async {
            loop {
                if self.is_closed() {
                    return Ok(());
                }
                let leading = match &elector {
                    None => true,
                    Some(e) => match e.try_acquire_or_renew().await {
                        Ok(l) => l,
                        Err(err) => {
                            tracing::warn!(error = %err, "leader election failed; not acting this round");
                            false
                        }
                    },
                };
                let now = tokio::time::Instant::now();
                if leading && now >= next_pass {
                    match self.check_and_scale().await {
                        Ok(ds) => tracing::debug!(services = ds.len(), "pass done"),
                        Err(Error::Closed) => return Ok(()),
                        Err(e) => tracing::warn!(error = %e, "scale-to-zero pass failed"),
                    }
                    next_pass = tokio::time::Instant::now() + opts.polling_interval;
                }
                let wake = match &elector {
                    Some(_) => next_pass.min(tokio::time::Instant::now() + renew_every),
                    None => next_pass,
                };
                tokio::select! {
                    _ = tokio::time::sleep_until(wake) => {}
                    _ = self.closed_notify.notified() => {}
                }
            }
        }
        .await;
        if let Some(e) = &elector
            && let Err(err) = e.release().await
        {
            tracing::debug!(error = %err, "releasing the lease failed");
        }
        result
    }
}
