//! The read-compare-write steps of one scale call, under the target's lock:
//!
//! 1. [`on_seen`](ScaleHandler::on_seen): a target seen before is written on top of what was
//!    seen, without a read (one request per repeated change);
//! 2. [`read`](ScaleHandler::read): otherwise, or when that write found the count changed, a
//!    fresh read;
//! 3. compare (the [`Intent`] says when no write is needed);
//! 4. [`remember_count`](ScaleHandler::remember_count) before going to zero;
//! 5. [`write_replicas`](ScaleHandler::write_replicas); a count changed since the read (422 of
//!    the tested patch, 409 of an update) goes back to 2, bounded;
//! 6. [`report`](ScaleHandler::report): a log line and an Event.

use std::time::Duration;

use k8s_openapi::api::autoscaling::v1::Scale as ApiScale;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};

use crate::core::error::{Error, Result};
use crate::core::scale::cache::Seen;
use crate::core::scale::events::EventType;
use crate::core::scale::handler::ScaleHandler;
use crate::core::scale::intent::Intent;
use crate::core::scale::operations::{PREVIOUS_REPLICAS_ANNOTATION, ScaleResult};
use crate::core::scale::resolved::ResolvedTarget;
use crate::core::scale::write::Base;

/// How many times a write whose base went stale is retried with a fresh read.
const STALE_RETRIES: u32 = 10;

/// What the steps learnt on the way, for the report (also when they fail).
#[derive(Debug, Default)]
struct Progress {
    /// The count before the call, once known.
    previous: Option<i32>,
    /// The count the call wanted, once known.
    desired: Option<i32>,
    /// The object's uid, once known.
    uid: Option<String>,
}

/// A write that the server refused: the count it tested, and the error. The next read tells
/// whether the count changed since (then it is retried) or the value itself was refused.
type Refused = Option<(i32, Error)>;

/// What the write on top of a seen scale came to.
enum OnSeen {
    /// Written.
    Done(ScaleResult),
    /// Nothing to try (never seen, or a call that must read), or the count changed: read.
    Read(Refused),
}

fn result(t: &ResolvedTarget, previous: i32, replicas: i32, changed: bool, reason: String) -> ScaleResult {
    ScaleResult { target: t.display(), previous, replicas, changed, reason }
}

impl ScaleHandler {
    /// Brings the target to what `intent` asks, then reports it: a log line, and an Event
    /// regarding the target (or `regarding`: the ElastiService, when the loop scales).
    pub(crate) async fn converge(
        &self,
        t: &ResolvedTarget,
        intent: Intent,
        dry_run: bool,
        regarding: Option<&ObjectReference>,
    ) -> Result<ScaleResult> {
        let mut progress = Progress::default();
        let outcome = self.converge_steps(t, intent, dry_run, &mut progress).await;
        self.report(t, intent, dry_run, regarding, &progress, &outcome).await;
        outcome
    }

    async fn converge_steps(
        &self,
        t: &ResolvedTarget,
        intent: Intent,
        dry_run: bool,
        progress: &mut Progress,
    ) -> Result<ScaleResult> {
        let api = self.api_for(t);
        let mut refused = match self.on_seen(&api, t, intent, dry_run, progress).await? {
            OnSeen::Done(done) => return Ok(done),
            OnSeen::Read(refused) => refused,
        };
        let mut annotated = false;
        for attempt in 0..=STALE_RETRIES {
            let scale = self.read(&api, t, progress).await?;
            let mut base = Base::of(&scale);
            let current = base.count();
            if let Some((tested, e)) = refused.take()
                && tested == current
            {
                return Err(e);
            }
            progress.previous.get_or_insert(current);
            let desired = self.desired(&api, t, intent, current).await?;
            progress.desired = Some(desired);
            if let Some(reason) = intent.satisfied(current, desired) {
                return Ok(result(t, current, current, false, reason));
            }
            if dry_run {
                self.write_replicas(&api, t, &base, desired, true).await?;
                return Ok(result(
                    t,
                    current,
                    current,
                    false,
                    format!("dry run: would scale from {current} to {desired}"),
                ));
            }
            if intent.remembers() && !annotated {
                // The annotation moved the resourceVersion (which an update must carry).
                base.resource_version = self.remember_count(&api, t, current).await?;
                annotated = true;
            }
            match self.write_replicas(&api, t, &base, desired, false).await {
                Ok(written) => {
                    self.remember_scale(t, &written, progress.uid.clone());
                    return Ok(result(t, current, desired, true, format!("scaled from {current} to {desired}")));
                }
                Err(e) if e.is_invalid() && attempt < STALE_RETRIES => {
                    tracing::debug!(target = %t.display(), attempt, "write refused; reading again");
                    refused = Some((current, e));
                }
                Err(e) if e.is_conflict() && attempt < STALE_RETRIES => {
                    tracing::debug!(target = %t.display(), attempt, "conflict; reading again");
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt + 1))).await;
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Step 1: writes on top of the scale seen last time, without reading, when the intent's
    /// count differs from it. Calls that must read first (dry runs, going to zero, which
    /// remembers the count read, and restoring a remembered count) skip it.
    async fn on_seen(
        &self,
        api: &Api<DynamicObject>,
        t: &ResolvedTarget,
        intent: Intent,
        dry_run: bool,
        progress: &mut Progress,
    ) -> Result<OnSeen> {
        let Some(Seen { base, uid }) = self.seen.get(&t.key) else { return Ok(OnSeen::Read(None)) };
        let seen = base.count();
        let desired = intent.desired(seen, None);
        if dry_run || intent.remembers() || intent.restores_at(seen) || intent.satisfied(seen, desired).is_some() {
            return Ok(OnSeen::Read(None));
        }
        progress.uid = uid.clone();
        match self.write_replicas(api, t, &base, desired, false).await {
            Ok(written) => {
                self.remember_scale(t, &written, uid);
                progress.previous = Some(seen);
                progress.desired = Some(desired);
                Ok(OnSeen::Done(result(t, seen, desired, true, format!("scaled from {seen} to {desired}"))))
            }
            Err(e) if e.is_invalid() => {
                tracing::debug!(target = %t.display(), "the count changed since last seen; reading");
                self.seen.forget(&t.key);
                Ok(OnSeen::Read(Some((seen, e))))
            }
            Err(e) if e.is_conflict() => {
                tracing::debug!(target = %t.display(), "changed since last seen; reading");
                self.seen.forget(&t.key);
                Ok(OnSeen::Read(None))
            }
            Err(e) => {
                self.seen.forget(&t.key);
                Err(e)
            }
        }
    }

    /// Step 2: reads the scale subresource and remembers it.
    async fn read(&self, api: &Api<DynamicObject>, t: &ResolvedTarget, progress: &mut Progress) -> Result<ApiScale> {
        match api.get_scale(&t.name).await {
            Ok(scale) => {
                progress.uid = scale.metadata.uid.clone();
                self.remember_scale(t, &scale, scale.metadata.uid.clone());
                Ok(scale)
            }
            Err(e) => {
                self.seen.forget(&t.key);
                Err(e.into())
            }
        }
    }

    /// Step 3's input: the count to write over `current` (reads the remembered count only when
    /// the intent restores it).
    async fn desired(&self, api: &Api<DynamicObject>, t: &ResolvedTarget, intent: Intent, current: i32) -> Result<i32> {
        if !intent.restores_at(current) {
            return Ok(intent.desired(current, None));
        }
        let obj = api.get_metadata(&t.name).await?;
        let remembered = obj
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(PREVIOUS_REPLICAS_ANNOTATION))
            .and_then(|v| v.parse::<i32>().ok())
            .filter(|v| *v >= 0);
        Ok(intent.desired(current, remembered))
    }

    /// Step 4: writes `current` to the `kubescale.io/previous-replicas` annotation; returns the
    /// object's new resourceVersion.
    async fn remember_count(&self, api: &Api<DynamicObject>, t: &ResolvedTarget, current: i32) -> Result<String> {
        let patch = serde_json::json!({
            "metadata": {"annotations": {PREVIOUS_REPLICAS_ANNOTATION: current.to_string()}}
        });
        let patched = api.patch(&t.name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        Ok(patched.metadata.resource_version.unwrap_or_default())
    }

    /// Remembers a scale read or written (see `cache.rs`).
    fn remember_scale(&self, t: &ResolvedTarget, s: &ApiScale, uid: Option<String>) {
        if s.metadata.resource_version.is_some() {
            self.seen.put(&t.key, Seen { base: Base::of(s), uid });
        }
    }

    /// Step 6: a log line, and (unless the handler records none) an Event: `SuccessToScale` on a
    /// change, `FailedToScale` on a failure. A missing object or type has nothing to attach an
    /// Event to; a dry run records nothing.
    async fn report(
        &self,
        t: &ResolvedTarget,
        intent: Intent,
        dry_run: bool,
        regarding: Option<&ObjectReference>,
        progress: &Progress,
        outcome: &Result<ScaleResult>,
    ) {
        let target = t.display();
        let own = t.object_ref(progress.uid.clone());
        let regarding = regarding.unwrap_or(&own);
        let ns = t.namespace.as_str();
        match outcome {
            Ok(o) if o.changed => {
                let note = format!("Scaled {target} from {} to {} replicas", o.previous, o.replicas);
                tracing::info!(namespace = ns, %target, from = o.previous, to = o.replicas, "scaled");
                self.record_quietly(EventType::Normal, "SuccessToScale", note, regarding).await;
            }
            Ok(o) => tracing::debug!(namespace = ns, %target, reason = %o.reason, "no scale needed"),
            Err(e) if e.is_not_found() || dry_run => {}
            Err(e) => {
                let from = progress.previous.map_or_else(|| "?".to_string(), |p| p.to_string());
                let to = progress.desired.unwrap_or_else(|| intent.nominal());
                let note = format!("Failed to scale {target} from {from} to {to} replicas: {e}");
                tracing::warn!(namespace = ns, %target, error = %e, "scale failed");
                self.record_quietly(EventType::Warning, "FailedToScale", note, regarding).await;
            }
        }
    }
}
