//! Reading and writing the `scale` subresource: the heart of the handler.

use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};

use crate::core::discovery::Resource;
use crate::core::error::{Error, Result};
use crate::core::events::EventType;
use crate::core::handler::ScaleHandler;
use crate::core::target::TargetRef;

/// Annotation holding the replica count a target had before `scale_to_zero`.
pub const PREVIOUS_REPLICAS_ANNOTATION: &str = "kubescale.io/previous-replicas";
/// How many times a write that met a 409 Conflict is retried with a fresh read.
const CONFLICT_RETRIES: u32 = 10;

/// A JSON Patch that sets `spec.replicas` to `desired` only if it is still `read` (absent when
/// the read showed 0: the API omits a zero count, and then `spec` is empty).
fn replicas_patch(read: Option<i32>, desired: i32) -> json_patch::Patch {
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

/// The scale subresource of a target, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleInfo {
    /// Namespace of the target (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Name of the target.
    pub name: String,
    /// Kind of the target, e.g. `Deployment`.
    pub kind: String,
    /// apiVersion of the target, e.g. `apps/v1`.
    pub api_version: String,
    /// Desired replicas (`spec.replicas`; absent means 0).
    pub spec_replicas: i32,
    /// Observed replicas (`status.replicas`).
    pub status_replicas: i32,
    /// Label selector of the pods, when the kind reports one.
    pub selector: Option<String>,
    /// resourceVersion of the read.
    pub resource_version: String,
}

/// What a scale call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleOutcome {
    /// The target, as `kind.group/name`.
    pub target: String,
    /// Desired replicas before the call.
    pub previous: i32,
    /// Desired replicas after the call.
    pub replicas: i32,
    /// Whether the call wrote a new count.
    pub changed: bool,
    /// Why, in words.
    pub reason: String,
}

/// Options of a scale call.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScaleOptions {
    /// Keep a current count larger than the desired one (scale up only).
    pub at_least: bool,
    /// Validate on the server, write nothing.
    pub dry_run: bool,
}

/// The key of a target in the lock map and the scale cache: `namespace/group/Kind/name`.
fn target_key(resource: &Resource, ns: &str, name: &str) -> String {
    format!("{ns}/{}/{}/{name}", resource.group, resource.kind)
}

fn display_target(resource: &Resource, name: &str) -> String {
    let kind = resource.kind.to_ascii_lowercase();
    if resource.group.is_empty() { format!("{kind}/{name}") } else { format!("{kind}.{}/{name}", resource.group) }
}

fn info_from(resource: &Resource, namespace: &str, s: &Scale) -> ScaleInfo {
    ScaleInfo {
        namespace: if resource.namespaced { namespace.to_string() } else { String::new() },
        name: s.metadata.name.clone().unwrap_or_default(),
        kind: resource.kind.clone(),
        api_version: resource.api_version(),
        spec_replicas: s.spec.as_ref().and_then(|sp| sp.replicas).unwrap_or(0),
        status_replicas: s.status.as_ref().map_or(0, |st| st.replicas),
        selector: s.status.as_ref().and_then(|st| st.selector.clone()),
        resource_version: s.metadata.resource_version.clone().unwrap_or_default(),
    }
}

/// Checks a replica count before any request.
pub fn check_replicas(replicas: i64) -> Result<i32> {
    i32::try_from(replicas).ok().filter(|r| *r >= 0).ok_or_else(|| Error::InvalidValue {
        field: "replicas",
        problem: format!("{replicas} is not a replica count: use an integer from 0 to {}", i32::MAX),
    })
}

impl ScaleHandler {
    /// Runs `op` on the resolved target; if the server says the resource *type* is gone (a CRD
    /// whose served version changed), resets discovery, resolves again and retries once.
    async fn with_resource<T, F, Fut>(&self, target: &TargetRef, op: F) -> Result<T>
    where
        F: Fn(Resource) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let resource = self.resolve_scalable(&target.type_spec).await?;
        match op(resource).await {
            Err(e) if e.is_missing_resource_type() => {
                tracing::debug!(target = %target, "resource type not found; refreshing discovery");
                self.discovery.reset();
                let resource = self.resolve_scalable(&target.type_spec).await?;
                op(resource).await
            }
            other => other,
        }
    }

    /// Resolves `target` (as [`with_resource`](Self::with_resource)), takes its per-target lock
    /// and a place among the handler's `concurrency` operations (a fair queue), and
    /// runs `op(resource, namespace, key)`.
    async fn with_locked_target<T, F, Fut>(&self, target: &TargetRef, namespace: Option<&str>, op: F) -> Result<T>
    where
        F: Fn(Resource, String, String) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.check_open()?;
        let ns = self.namespace_for(namespace)?;
        self.with_resource(target, |resource| {
            let ns = ns.clone();
            let op = &op;
            async move {
                let key = target_key(&resource, &ns, &target.name);
                let _guard = self.locks.lock(&key).await;
                // Admission after the target's lock, so that calls queued on one busy target
                // hold no place in the line. Never closed, so never an error.
                let _admitted = self.admission.acquire().await;
                op(resource, ns, key).await
            }
        })
        .await
    }

    /// Reads the scale subresource of `target`.
    pub async fn get_scale(&self, target: &TargetRef, namespace: Option<&str>) -> Result<ScaleInfo> {
        self.check_open()?;
        let ns = self.namespace_for(namespace)?;
        self.with_resource(target, |resource| {
            let ns = ns.clone();
            async move {
                let s = self.dynamic_api(&resource, &ns).get_scale(&target.name).await?;
                Ok(info_from(&resource, &ns, &s))
            }
        })
        .await
    }

    /// Sets the desired replicas of `target`, serialised per target, retried on conflicts,
    /// recorded as an Event.
    pub async fn scale(
        &self,
        target: &TargetRef,
        replicas: i32,
        namespace: Option<&str>,
        opts: ScaleOptions,
    ) -> Result<ScaleOutcome> {
        check_replicas(replicas.into())?;
        self.with_locked_target(target, namespace, |resource, ns, key| async move {
            self.scale_locked(&resource, &ns, &target.name, &key, replicas, opts, false, None).await
        })
        .await
    }

    /// Remembers the current desired count in the `kubescale.io/previous-replicas` annotation,
    /// then scales to 0.
    pub async fn scale_to_zero(&self, target: &TargetRef, namespace: Option<&str>) -> Result<ScaleOutcome> {
        self.scale_to_zero_for(target, namespace, None).await
    }

    /// [`scale_to_zero`](Self::scale_to_zero), recording its Event regarding `regarding` (the
    /// ElastiService, when the loop scales) instead of the target.
    pub(crate) async fn scale_to_zero_for(
        &self,
        target: &TargetRef,
        namespace: Option<&str>,
        regarding: Option<&ObjectReference>,
    ) -> Result<ScaleOutcome> {
        self.with_locked_target(target, namespace, |resource, ns, key| async move {
            let opts = ScaleOptions::default();
            self.scale_locked(&resource, &ns, &target.name, &key, 0, opts, true, regarding).await
        })
        .await
    }

    /// Scales up from zero: to the remembered count when `restore` (but at least `min_replicas`),
    /// else to `min_replicas`. A target already above that count is left alone.
    pub async fn scale_from_zero(
        &self,
        target: &TargetRef,
        min_replicas: i32,
        namespace: Option<&str>,
        restore: bool,
    ) -> Result<ScaleOutcome> {
        self.scale_from_zero_for(target, min_replicas, namespace, restore, None).await
    }

    /// [`scale_from_zero`](Self::scale_from_zero), recording its Event regarding `regarding`.
    pub(crate) async fn scale_from_zero_for(
        &self,
        target: &TargetRef,
        min_replicas: i32,
        namespace: Option<&str>,
        restore: bool,
        regarding: Option<&ObjectReference>,
    ) -> Result<ScaleOutcome> {
        check_replicas(min_replicas.into())?;
        self.with_locked_target(target, namespace, |resource, ns, key| async move {
            let mut desired = min_replicas;
            if restore {
                let obj = self.dynamic_api(&resource, &ns).get_metadata(&target.name).await?;
                let remembered = obj
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(PREVIOUS_REPLICAS_ANNOTATION))
                    .and_then(|v| v.parse::<i32>().ok())
                    .filter(|v| *v >= 0);
                if let Some(r) = remembered {
                    desired = desired.max(r);
                }
            }
            let opts = ScaleOptions { at_least: true, dry_run: false };
            self.scale_locked(&resource, &ns, &target.name, &key, desired, opts, false, regarding).await
        })
        .await
    }

    /// Remembers a scale read or written (see `scale_cache.rs`).
    fn remember_scale(&self, key: &str, s: &Scale, uid: Option<String>) {
        if let Some(rv) = s.metadata.resource_version.clone() {
            let spec = s.spec.as_ref().and_then(|sp| sp.replicas).unwrap_or(0);
            self.seen.put(key, crate::core::scale_cache::Seen { spec, resource_version: rv, uid });
        }
    }

    /// Writes `desired` over the `scale` just read. Preferably a JSON Patch that tests the count
    /// that was compared, so that other changes to the object since the read (annotations,
    /// status) do not fail the write; where RBAC grants `update` but not `patch` on the scale
    /// subresource, an update carrying the read resourceVersion (remembered per handler).
    async fn write_replicas(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
        scale: &mut Scale,
        desired: i32,
    ) -> Result<Scale> {
        if self.scale_patch_allowed.load(Ordering::Relaxed) {
            let write = replicas_patch(scale.spec.as_ref().and_then(|s| s.replicas), desired);
            match api.patch_scale(name, &PatchParams::default(), &Patch::Json::<()>(write)).await.map_err(Error::from) {
                Err(e) if e.status() == Some(403) => {
                    tracing::info!(error = %e, "no patch permission on the scale subresource; using update");
                    self.scale_patch_allowed.store(false, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        scale.spec.get_or_insert_with(Default::default).replicas = Some(desired);
        Ok(api.replace_scale(name, &PostParams::default(), scale).await?)
    }

    /// The read-compare-write loop, under the target's lock. With `remember`, the current desired
    /// count is written to the `kubescale.io/previous-replicas` annotation before the first write.
    /// Events regard the target, or `event_regarding` when given.
    #[allow(clippy::too_many_arguments)]
    async fn scale_locked(
        &self,
        resource: &Resource,
        ns: &str,
        name: &str,
        key: &str,
        desired: i32,
        opts: ScaleOptions,
        remember: bool,
        event_regarding: Option<&ObjectReference>,
    ) -> Result<ScaleOutcome> {
        let api = self.dynamic_api(resource, ns);
        let target = display_target(resource, name);
        let mut regarding = resource.object_ref(name, ns);
        let mut remembered = false;
        let mut previous = None;
        let result: Result<ScaleOutcome> = async {
            // A target seen before: write on top of what was seen, without reading (a 409 means
            // it changed since, and the loop below reads afresh).
            if let Some(seen) = self.seen.get(key)
                && seen.spec != desired
                && !(opts.at_least && seen.spec > desired)
                && !opts.dry_run
                && !remember
            {
                let blind = Scale {
                    metadata: ObjectMeta {
                        name: Some(name.to_string()),
                        namespace: resource.namespaced.then(|| ns.to_string()),
                        resource_version: Some(seen.resource_version.clone()),
                        ..Default::default()
                    },
                    spec: Some(ScaleSpec { replicas: Some(desired) }),
                    status: None,
                };
                regarding.uid = seen.uid.clone();
                match api.replace_scale(name, &PostParams::default(), &blind).await.map_err(Error::from) {
                    Ok(written) => {
                        self.remember_scale(key, &written, seen.uid);
                        previous = Some(seen.spec);
                        let reason = format!("scaled from {} to {desired}", seen.spec);
                        return Ok(ScaleOutcome {
                            target: target.clone(),
                            previous: seen.spec,
                            replicas: desired,
                            changed: true,
                            reason,
                        });
                    }
                    Err(e) if e.is_conflict() => {
                        tracing::debug!(%target, "changed since last seen; reading");
                        self.seen.forget(key);
                    }
                    Err(e) => {
                        self.seen.forget(key);
                        return Err(e);
                    }
                }
            }
            // A 422 from the last write: the replicas changed since the read (the patch's test
            // failed) or the value is refused. The next read tells which.
            let mut refused: Option<(i32, Error)> = None;
            for attempt in 0..=CONFLICT_RETRIES {
                let mut scale = match api.get_scale(name).await {
                    Ok(s) => s,
                    Err(e) => {
                        self.seen.forget(key);
                        return Err(e.into());
                    }
                };
                regarding.uid = scale.metadata.uid.clone();
                self.remember_scale(key, &scale, scale.metadata.uid.clone());
                let current = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
                if let Some((tested, e)) = refused.take()
                    && tested == current
                {
                    return Err(e);
                }
                previous.get_or_insert(current);
                let outcome = |replicas: i32, changed: bool, reason: String| ScaleOutcome {
                    target: target.clone(),
                    previous: current,
                    replicas,
                    changed,
                    reason,
                };
                if current == desired {
                    return Ok(outcome(current, false, format!("already at {desired} replicas")));
                }
                if opts.at_least && current > desired {
                    return Ok(outcome(
                        current,
                        false,
                        format!("kept {current} replicas: more than the {desired} asked for"),
                    ));
                }
                if opts.dry_run {
                    let pp = PostParams { dry_run: true, ..Default::default() };
                    scale.spec.get_or_insert_with(Default::default).replicas = Some(desired);
                    api.replace_scale(name, &pp, &scale).await?;
                    return Ok(outcome(current, false, format!("dry run: would scale from {current} to {desired}")));
                }
                if remember && !remembered {
                    let patch = serde_json::json!({
                        "metadata": {"annotations": {PREVIOUS_REPLICAS_ANNOTATION: current.to_string()}}
                    });
                    let patched = api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
                    // The patch moved the resourceVersion (which an update must carry).
                    scale.metadata.resource_version = patched.metadata.resource_version;
                    remembered = true;
                }
                match self.write_replicas(&api, name, &mut scale, desired).await {
                    Ok(written) => {
                        self.remember_scale(key, &written, regarding.uid.clone());
                        return Ok(outcome(desired, true, format!("scaled from {current} to {desired}")));
                    }
                    Err(e) if e.status() == Some(422) && attempt < CONFLICT_RETRIES => {
                        tracing::debug!(%target, attempt, "write refused; reading again");
                        refused = Some((current, e));
                    }
                    Err(e) if e.is_conflict() && attempt < CONFLICT_RETRIES => {
                        tracing::debug!(%target, attempt, "conflict; reading again");
                        tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt + 1))).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            unreachable!("the last attempt returns")
        }
        .await;
        let regarding = event_regarding.unwrap_or(&regarding);
        match &result {
            Ok(o) if o.changed => {
                let note = format!("Scaled {} from {} to {} replicas", target, o.previous, o.replicas);
                tracing::info!(namespace = ns, %target, from = o.previous, to = o.replicas, "scaled");
                self.record_quietly(EventType::Normal, "SuccessToScale", note, regarding).await;
            }
            Ok(o) => tracing::debug!(namespace = ns, %target, reason = %o.reason, "no scale needed"),
            // A missing object or type has nothing to attach an event to; a dry run records nothing.
            Err(e) if e.is_not_found() || opts.dry_run => {}
            Err(e) => {
                let from = previous.map_or_else(|| "?".to_string(), |p| p.to_string());
                let note = format!("Failed to scale {target} from {from} to {desired} replicas: {e}");
                tracing::warn!(namespace = ns, %target, error = %e, "scale failed");
                self.record_quietly(EventType::Warning, "FailedToScale", note, regarding).await;
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_bounds() {
        assert_eq!(check_replicas(0).unwrap(), 0);
        assert_eq!(check_replicas(i64::from(i32::MAX)).unwrap(), i32::MAX);
        assert!(check_replicas(-1).is_err());
        assert!(check_replicas(i64::from(i32::MAX) + 1).is_err());
    }

    #[test]
    fn the_write_tests_the_count_that_was_compared() {
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
}
