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
struct Learnt {
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

/// The count remembered in the `kubescale.io/previous-replicas` annotation, if it is one.
fn remembered_in(annotations: Option<&std::collections::BTreeMap<String, String>>) -> Option<i32> {
    annotations
        .and_then(|a| a.get(PREVIOUS_REPLICAS_ANNOTATION))
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|v| *v >= 0)
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
        let mut learnt = Learnt::default();
        let outcome = self.converge_steps(t, intent, dry_run, &mut learnt).await;
        if matches!(&outcome, Ok(o) if o.changed) {
            crate::core::metrics::metrics().scale_writes.inc();
        }
        self.report(t, intent, dry_run, regarding, &learnt, &outcome);
        outcome
    }

    async fn converge_steps(
        &self,
        t: &ResolvedTarget,
        intent: Intent,
        dry_run: bool,
        learnt: &mut Learnt,
    ) -> Result<ScaleResult> {
        let api = self.api_for(t);
        let mut refused = match self.on_seen(&api, t, intent, dry_run, learnt).await? {
            OnSeen::Done(done) => return Ok(done),
            OnSeen::Read(refused) => refused,
        };
        let mut annotated = false;
        for attempt in 0..=STALE_RETRIES {
            let mut base = self.read(&api, t, learnt).await?;
            let current = base.count();
            if let Some((tested, e)) = refused.take()
                && tested == current
            {
                return Err(e);
            }
            learnt.previous.get_or_insert(current);
            if let Some(expected) = intent.required().filter(|n| *n != current) {
                return Err(Error::Precondition { target: t.display(), expected, actual: current });
            }
            let desired = self.desired(&api, t, intent, current, &base.resource_version).await?;
            learnt.desired = Some(desired);
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
                    self.remember_scale(t, &written, learnt.uid.clone());
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

    /// What [`converge`](Self::converge) would do, from reads only (no dry-run write either):
    /// `Some((current, desired))` when it would write.
    pub(crate) async fn plan(&self, t: &ResolvedTarget, intent: Intent) -> Result<Option<(i32, i32)>> {
        let api = self.api_for(t);
        let mut learnt = Learnt::default();
        let base = self.read(&api, t, &mut learnt).await?;
        let current = base.count();
        let desired = self.desired(&api, t, intent, current, &base.resource_version).await?;
        Ok(intent.satisfied(current, desired).is_none().then_some((current, desired)))
    }

    /// The target's desired count (`spec.replicas`), as step 2 reads it: free while the
    /// target's watch shows the scale seen last.
    pub(crate) async fn desired_count(
        &self,
        target: &crate::core::target::TargetRef,
        namespace: Option<&str>,
    ) -> Result<i32> {
        self.with_resolved(target, namespace, |t| async move {
            let api = self.api_for(&t);
            Ok(self.read(&api, &t, &mut Learnt::default()).await?.count())
        })
        .await
    }

    /// The target (`TYPE/NAME`), its desired count and the count remembered for a return from
    /// zero, read from the server (a replay's starting point; no lock, no write).
    pub(crate) async fn count_and_remembered(
        &self,
        target: &crate::core::target::TargetRef,
        namespace: Option<&str>,
    ) -> Result<(String, i32, Option<i32>)> {
        self.with_resolved(target, namespace, |t| async move {
            let api = self.api_for(&t);
            let count = self.read(&api, &t, &mut Learnt::default()).await?.count();
            let meta = api.get_metadata(&t.name).await?.metadata;
            Ok((t.display(), count, remembered_in(meta.annotations.as_ref())))
        })
        .await
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
        learnt: &mut Learnt,
    ) -> Result<OnSeen> {
        let Some(Seen { base, uid }) = self.seen.get(&t.key) else { return Ok(OnSeen::Read(None)) };
        let seen = base.count();
        let desired = intent.desired(seen, None);
        let must_read = intent.remembers() || intent.restores_at(seen) || intent.required().is_some();
        if dry_run || must_read || intent.satisfied(seen, desired).is_some() {
            return Ok(OnSeen::Read(None));
        }
        learnt.uid = uid.clone();
        match self.write_replicas(api, t, &base, desired, false).await {
            Ok(written) => {
                self.remember_scale(t, &written, uid);
                learnt.previous = Some(seen);
                learnt.desired = Some(desired);
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

    /// Step 2: the current count. A scale seen at the resourceVersion the target's watch
    /// reports now is current and costs no request; otherwise the scale subresource is read
    /// (and remembered).
    async fn read(&self, api: &Api<DynamicObject>, t: &ResolvedTarget, learnt: &mut Learnt) -> Result<Base> {
        if let Some(Seen { base, uid }) = self.seen.get(&t.key)
            && let Some(Some(meta)) = self.watched_meta(&t.resource, &t.namespace, &t.name)
            && meta.metadata.resource_version.as_deref() == Some(base.resource_version.as_str())
        {
            learnt.uid = uid;
            return Ok(base);
        }
        match api.get_scale(&t.name).await {
            Ok(scale) => {
                learnt.uid = scale.metadata.uid.clone();
                self.remember_scale(t, &scale, scale.metadata.uid.clone());
                Ok(Base::of(&scale))
            }
            Err(e) => {
                self.seen.forget(&t.key);
                Err(e.into())
            }
        }
    }

    /// The count to write; restoring at zero, the remembered one (read at `rv`, the version the
    /// count was read at: from the watch when it shows that version, else from the server).
    async fn desired(
        &self,
        api: &Api<DynamicObject>,
        t: &ResolvedTarget,
        intent: Intent,
        current: i32,
        rv: &str,
    ) -> Result<i32> {
        if !intent.restores_at(current) {
            return Ok(intent.desired(current, None));
        }
        let annotations = match self.watched_meta(&t.resource, &t.namespace, &t.name) {
            Some(Some(meta)) if meta.metadata.resource_version.as_deref() == Some(rv) => {
                meta.metadata.annotations.clone()
            }
            _ => api.get_metadata(&t.name).await?.metadata.annotations,
        };
        Ok(intent.desired(current, remembered_in(annotations.as_ref())))
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
    fn report(
        &self,
        t: &ResolvedTarget,
        intent: Intent,
        dry_run: bool,
        regarding: Option<&ObjectReference>,
        learnt: &Learnt,
        outcome: &Result<ScaleResult>,
    ) {
        let target = t.display();
        let own = t.object_ref(learnt.uid.clone());
        let regarding = regarding.unwrap_or(&own);
        let ns = t.namespace.as_str();
        match outcome {
            Ok(o) if o.changed => {
                let note = format!("Scaled {target} from {} to {} replicas", o.previous, o.replicas);
                tracing::info!(namespace = ns, %target, from = o.previous, to = o.replicas, "scaled");
                self.record_quietly(EventType::Normal, "SuccessToScale", note, regarding);
            }
            Ok(o) => tracing::debug!(namespace = ns, %target, reason = %o.reason, "no scale needed"),
            Err(e) if e.is_not_found() || dry_run => {}
            Err(e) => {
                let from = learnt.previous.map_or_else(|| "?".to_string(), |p| p.to_string());
                let to = learnt.desired.unwrap_or_else(|| intent.nominal());
                let note = format!("Failed to scale {target} from {from} to {to} replicas: {e}");
                tracing::warn!(namespace = ns, %target, error = %e, "scale failed");
                self.record_quietly(EventType::Warning, "FailedToScale", note, regarding);
            }
        }
    }
}

/// Offline tests of every branch of the write path: a handler whose client talks to a scripted
/// API server (kube-rs's `tower-test` pattern), so each request the path makes is checked.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::{Request, Response};
    use kube::client::Body;
    use serde_json::{Value, json};
    use tower_test::mock::{self, Handle, SendResponse};

    use super::*;
    use crate::core::config::Connection;
    use crate::core::discovery::Resource;
    use crate::core::scale::handler::HandlerOptions;

    type Api = Handle<Request<Body>, Response<Body>>;

    fn handler() -> (Arc<ScaleHandler>, Api) {
        let (service, api) = mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(service, "ns");
        let conn = Connection {
            client,
            server: "https://mock".into(),
            context: None,
            default_namespace: "ns".into(),
            limits: Default::default(),
        };
        let opts = HandlerOptions { record_events: false, ..Default::default() };
        (Arc::new(ScaleHandler::with_connection(conn, opts).unwrap()), api)
    }

    fn web() -> ResolvedTarget {
        let resource = Resource {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            plural: "deployments".into(),
            namespaced: true,
            scalable: true,
            short_names: vec!["deploy".into()],
        };
        ResolvedTarget::new(resource, "ns", "web")
    }

    const SCALE_PATH: &str = "/apis/apps/v1/namespaces/ns/deployments/web/scale";

    fn scale(replicas: i32, rv: &str) -> Value {
        let mut s = json!({
            "apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": "web", "namespace": "ns", "resourceVersion": rv, "uid": "uid-web"},
            "spec": {}, "status": {"replicas": replicas},
        });
        if replicas > 0 {
            s["spec"]["replicas"] = json!(replicas);
        }
        s
    }

    fn status(code: u16, reason: &str, message: &str) -> Value {
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message})
    }

    /// The next request: method, path with query, JSON body (Null when empty), and the reply slot.
    async fn next(api: &mut Api) -> (String, String, Value, SendResponse<Response<Body>>) {
        let (req, send) = api.next_request().await.expect("a request");
        let method = req.method().to_string();
        let uri = match req.uri().query().filter(|q| !q.is_empty()) {
            Some(q) => format!("{}?{q}", req.uri().path()),
            None => req.uri().path().to_string(),
        };
        let bytes = req.into_body().collect_bytes().await.unwrap();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        (method, uri, body, send)
    }

    fn reply(send: SendResponse<Response<Body>>, code: u16, body: &Value) {
        let resp = Response::builder().status(code).body(Body::from(serde_json::to_vec(body).unwrap())).unwrap();
        send.send_response(resp);
    }

    fn tested_patch(from: i32, to: i32) -> Value {
        json!([
            {"op": "test", "path": "/spec/replicas", "value": from},
            {"op": "replace", "path": "/spec/replicas", "value": to},
        ])
    }

    fn set(replicas: i32) -> Intent {
        Intent::Set { replicas, at_least: false, if_current: None }
    }

    async fn call(
        h: &Arc<ScaleHandler>,
        intent: Intent,
        dry_run: bool,
    ) -> tokio::task::JoinHandle<Result<ScaleResult>> {
        let h = h.clone();
        tokio::spawn(async move { h.converge(&web(), intent, dry_run, None).await })
    }

    #[tokio::test]
    async fn a_first_change_reads_then_writes_a_tested_patch() {
        let (h, mut api) = handler();
        let task = call(&h, set(5), false).await;
        let (m, uri, _, send) = next(&mut api).await;
        assert_eq!((m.as_str(), uri.as_str()), ("GET", SCALE_PATH));
        reply(send, 200, &scale(3, "10"));
        let (m, uri, body, send) = next(&mut api).await;
        assert_eq!((m.as_str(), uri.as_str()), ("PATCH", SCALE_PATH));
        assert_eq!(body, tested_patch(3, 5));
        reply(send, 200, &scale(5, "11"));
        let r = task.await.unwrap().unwrap();
        assert_eq!((r.previous, r.replicas, r.changed), (3, 5, true));
        assert_eq!(r.target, "deployment.apps/web");
    }

    #[tokio::test]
    async fn a_repeated_change_is_one_request_and_a_changed_count_costs_a_read() {
        let (h, mut api) = handler();
        h.remember_scale(&web(), &serde_json::from_value(scale(3, "10")).unwrap(), None);
        // One request: the patch tests the remembered count.
        let task = call(&h, set(4), false).await;
        let (m, _, body, send) = next(&mut api).await;
        assert_eq!((m.as_str(), body), ("PATCH", tested_patch(3, 4)));
        reply(send, 200, &scale(4, "11"));
        assert_eq!(task.await.unwrap().unwrap().previous, 3);
        // Someone set 7 meanwhile: the test fails (422), the handler reads and writes over 7.
        let task = call(&h, set(2), false).await;
        let (_, _, body, send) = next(&mut api).await;
        assert_eq!(body, tested_patch(4, 2));
        reply(send, 422, &status(422, "Invalid", "the server rejected our request due to an error in our request"));
        let (m, _, _, send) = next(&mut api).await;
        assert_eq!(m, "GET");
        reply(send, 200, &scale(7, "15"));
        let (_, _, body, send) = next(&mut api).await;
        assert_eq!(body, tested_patch(7, 2));
        reply(send, 200, &scale(2, "16"));
        let r = task.await.unwrap().unwrap();
        assert_eq!((r.previous, r.replicas), (7, 2), "previous is what the read showed, not the stale memory");
    }

    #[tokio::test]
    async fn a_refused_value_is_an_invalid_error_once_a_read_shows_the_count_unchanged() {
        let (h, mut api) = handler();
        let task = call(&h, set(500), false).await;
        let (m, _, _, send) = next(&mut api).await;
        assert_eq!(m, "GET");
        reply(send, 200, &scale(3, "10"));
        let (m, _, _, send) = next(&mut api).await;
        assert_eq!(m, "PATCH");
        reply(send, 422, &status(422, "Invalid", "spec.replicas: Invalid value: 500: must be at most 10"));
        // A 422 is either the test of the count failing or the value refused: the read tells.
        let (m, _, _, send) = next(&mut api).await;
        assert_eq!(m, "GET");
        reply(send, 200, &scale(3, "10"));
        let e = task.await.unwrap().unwrap_err();
        assert!(e.is_invalid() && e.to_string().contains("must be at most 10"), "{e}");
    }

    #[tokio::test]
    async fn rbac_without_patch_switches_to_update_for_good() {
        let (h, mut api) = handler();
        let task = call(&h, set(5), false).await;
        let (_, _, _, send) = next(&mut api).await;
        reply(send, 200, &scale(3, "10"));
        let (m, _, _, send) = next(&mut api).await;
        assert_eq!(m, "PATCH");
        let denied = "deployments.apps \"web\" is forbidden: User \"u\" cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"ns\"";
        reply(send, 403, &status(403, "Forbidden", denied));
        let (m, uri, body, send) = next(&mut api).await;
        assert_eq!((m.as_str(), uri.as_str()), ("PUT", SCALE_PATH));
        assert_eq!(body["metadata"]["resourceVersion"], "10");
        assert_eq!(body["spec"]["replicas"], 5);
        reply(send, 200, &scale(5, "11"));
        assert!(task.await.unwrap().unwrap().changed);
        // The next change goes straight to an update on top of what was seen.
        let task = call(&h, set(6), false).await;
        let (m, _, body, send) = next(&mut api).await;
        assert_eq!((m.as_str(), &body["metadata"]["resourceVersion"]), ("PUT", &json!("11")));
        reply(send, 200, &scale(6, "12"));
        assert_eq!(task.await.unwrap().unwrap().previous, 5);
    }

    #[tokio::test]
    async fn a_webhook_403_fails_the_call_but_keeps_patching() {
        let (h, mut api) = handler();
        let task = call(&h, set(5), false).await;
        let (_, _, _, send) = next(&mut api).await;
        reply(send, 200, &scale(3, "10"));
        let (_, _, _, send) = next(&mut api).await;
        reply(send, 403, &status(403, "Forbidden", "admission webhook \"freeze.example.com\" denied the request"));
        let e = task.await.unwrap().unwrap_err();
        assert!(e.is_forbidden(), "{e}");
        let task = call(&h, set(5), false).await;
        let (m, _, body, send) = next(&mut api).await;
        assert_eq!(m, "PATCH", "still a patch: the webhook is no RBAC verdict");
        assert_eq!(body, tested_patch(3, 5), "on top of the count read before");
        reply(send, 200, &scale(5, "11"));
        assert!(task.await.unwrap().unwrap().changed);
    }

    #[tokio::test]
    async fn an_update_conflict_reads_again() {
        let (h, mut api) = handler();
        h.scale_patch_allowed.store(false, std::sync::atomic::Ordering::Relaxed);
        h.remember_scale(&web(), &serde_json::from_value(scale(3, "10")).unwrap(), None);
        let task = call(&h, set(4), false).await;
        let (m, _, _, send) = next(&mut api).await;
        assert_eq!(m, "PUT");
        reply(send, 409, &status(409, "Conflict", "the object has been modified"));
        let (m, _, _, send) = next(&mut api).await;
        assert_eq!(m, "GET");
        reply(send, 200, &scale(3, "12"));
        let (m, _, body, send) = next(&mut api).await;
        assert_eq!((m.as_str(), &body["metadata"]["resourceVersion"]), ("PUT", &json!("12")));
        reply(send, 200, &scale(4, "13"));
        assert_eq!(task.await.unwrap().unwrap().replicas, 4);
    }

    #[tokio::test]
    async fn a_dry_run_reads_and_sends_a_dry_run_patch() {
        let (h, mut api) = handler();
        h.remember_scale(&web(), &serde_json::from_value(scale(3, "10")).unwrap(), None);
        let task = call(&h, set(5), true).await;
        let (m, _, _, send) = next(&mut api).await;
        assert_eq!(m, "GET", "a dry run shows what is there now, not what was seen");
        reply(send, 200, &scale(3, "10"));
        let (m, uri, body, send) = next(&mut api).await;
        assert_eq!(m, "PATCH");
        assert!(uri.contains("dryRun=All"), "{uri}");
        assert_eq!(body, tested_patch(3, 5));
        reply(send, 200, &scale(5, "10"));
        let r = task.await.unwrap().unwrap();
        assert_eq!((r.previous, r.replicas, r.changed), (3, 3, false));
        assert!(r.reason.starts_with("dry run"), "{}", r.reason);
    }

    #[tokio::test]
    async fn going_to_zero_remembers_the_count_first() {
        let (h, mut api) = handler();
        let task = call(&h, Intent::ToZero, false).await;
        let (_, _, _, send) = next(&mut api).await;
        reply(send, 200, &scale(4, "10"));
        let (m, uri, body, send) = next(&mut api).await;
        assert_eq!((m.as_str(), uri.as_str()), ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/web"));
        assert_eq!(body["metadata"]["annotations"][super::PREVIOUS_REPLICAS_ANNOTATION], "4");
        let mut object = scale(4, "11");
        object["kind"] = json!("Deployment");
        object["apiVersion"] = json!("apps/v1");
        reply(send, 200, &object);
        let (m, _, body, send) = next(&mut api).await;
        assert_eq!((m.as_str(), body), ("PATCH", tested_patch(4, 0)));
        reply(send, 200, &scale(0, "12"));
        assert_eq!(task.await.unwrap().unwrap().replicas, 0);
    }
}
