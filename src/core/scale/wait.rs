//! Waiting for a target's replicas with a watch.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::Api;
use kube::api::{DynamicObject, WatchEvent, WatchParams};

use crate::core::discovery::Resource;
use crate::core::error::{Error, Result};
use crate::core::scale::Scale;
use crate::core::scale::handler::ScaleHandler;
use crate::core::scale::resolved::ResolvedTarget;
use crate::core::target::TargetRef;

/// Kinds whose status reports `readyReplicas` (omitted when 0).
const READY_REPORTING: &[&str] = &["Deployment", "StatefulSet", "ReplicaSet", "ReplicationController", "Rollout"];
/// A watch request lasts at most this long before it is renewed.
const WATCH_SLICE: u32 = 20;

pub(crate) fn int_at(obj: &DynamicObject, path: &[&str]) -> Option<i64> {
    let mut v = &obj.data;
    for p in path {
        v = v.get(p)?;
    }
    v.as_i64()
}

/// The counts a wait compares, from an object as watched: the count (ready replicas when asked
/// for and reported, else status replicas) and the status replicas. `None` while the controller
/// has not yet observed the latest spec.
///
/// Only the built-in workload kinds (and Argo's Rollout) are known to keep their replicas in
/// `.status.replicas`; any other kind maps its scale subresource's `statusReplicasPath`
/// wherever its CRD says (`.status.currentReplicas`, ...), so for those the caller reads the
/// scale subresource instead ([`Observed::FromScale`]).
pub(crate) fn observed(resource: &Resource, obj: &DynamicObject, ready: bool) -> Observed {
    if let (Some(observed), Some(generation)) =
        (int_at(obj, &["status", "observedGeneration"]), obj.metadata.generation)
        && observed < generation
    {
        return Observed::NotYet;
    }
    if !READY_REPORTING.contains(&resource.kind.as_str()) {
        return Observed::FromScale;
    }
    let replicas = int_at(obj, &["status", "replicas"]).unwrap_or(0);
    let count = match (ready, int_at(obj, &["status", "readyReplicas"])) {
        (true, Some(r)) => r,
        (true, None) => 0,
        _ => replicas,
    };
    Observed::Counts(clamp(count), clamp(replicas))
}

pub(crate) fn clamp(n: i64) -> i32 {
    i32::try_from(n.max(0)).unwrap_or(i32::MAX)
}

/// What an object tells a wait.
pub(crate) enum Observed {
    /// The controller has not observed the latest spec yet.
    NotYet,
    /// The count compared and the status replicas.
    Counts(i32, i32),
    /// Read the scale subresource (a kind whose replicas live where its CRD says).
    FromScale,
}

/// Told `(seen, wanted)` whenever the count a wait sees changes.
pub type Progress = Box<dyn Fn(i32, i32) + Send + Sync>;

/// What a wait asks for.
struct Wait {
    replicas: Option<i32>,
    ready: bool,
    timeout: Duration,
    started: Instant,
    progress: Option<Progress>,
}

impl ScaleHandler {
    /// Whether `obj` shows the wanted count, settled: the surplus pods of a scale-down gone, not
    /// merely unready. Records the count seen, and tells `progress` when it changed.
    async fn settled(
        &self,
        api: &Api<DynamicObject>,
        resource: &Resource,
        obj: &DynamicObject,
        w: &Wait,
        wanted: i32,
        seen: &mut i32,
    ) -> Result<bool> {
        let (ready, progress) = (w.ready, w.progress.as_ref());
        let (count, status_replicas) = match observed(resource, obj, ready) {
            Observed::NotYet => return Ok(false),
            Observed::Counts(c, s) => (c, s),
            Observed::FromScale => {
                let name = obj.metadata.name.as_deref().unwrap_or_default();
                let s = api.get_scale(name).await?.status.map_or(0, |st| st.replicas);
                (s, s)
            }
        };
        if count != *seen
            && let Some(tell) = progress
        {
            tell(count, wanted);
        }
        *seen = count;
        Ok(count == wanted && status_replicas == wanted)
    }

    /// Waits until the target's ready count (or status count) equals `replicas` (default: its
    /// spec), at most `timeout`; `progress` is told `(seen, wanted)` whenever the count seen
    /// changes (first with the count at the start).
    pub async fn wait_for_replicas(
        &self,
        target: &TargetRef,
        replicas: Option<i32>,
        ready: bool,
        timeout: Duration,
        namespace: Option<&str>,
        progress: Option<Progress>,
    ) -> Result<Scale> {
        let started = Instant::now();
        let wait = &Wait { replicas, ready, timeout, started, progress };
        self.with_resolved(target, namespace, |t| async move { self.wait_resolved(target, &t, wait).await }).await
    }

    /// Waits for many targets at once (a fleet call's), each until its count is the one given
    /// (`(target, namespace, wanted)`), all within one `timeout`; `progress` is told `(done,
    /// total)` as each one gets there (first `(0, total)`). The scales, in the order given.
    ///
    /// Raises:
    ///     The first target's error in the order given ([`Error::WaitTimeout`] for one that
    ///     did not get there in time), once every wait has ended.
    pub async fn wait_for_all(
        &self,
        targets: &[(TargetRef, String, i32)],
        ready: bool,
        timeout: Duration,
        progress: Option<Progress>,
    ) -> Result<Vec<Scale>> {
        let total = i32::try_from(targets.len()).unwrap_or(i32::MAX);
        let done = std::sync::atomic::AtomicI32::new(0);
        if let Some(tell) = &progress {
            tell(0, total);
        }
        let deadline = Instant::now() + timeout;
        let waits =
            targets.iter().map(|(target, namespace, wanted)| -> futures::future::BoxFuture<'_, Result<Scale>> {
                let (done, progress) = (&done, &progress);
                Box::pin(async move {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let scale = self.wait_for_replicas(target, Some(*wanted), ready, left, Some(namespace), None).await;
                    if scale.is_ok() {
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        if let Some(tell) = progress {
                            tell(n, total);
                        }
                    }
                    scale
                })
            });
        let waits: Vec<_> = waits.collect();
        // A watch per target, at most the handler's `concurrency` at once, the order kept.
        let at_once = self.admission.available_permits().max(1);
        futures::stream::iter(waits).buffered(at_once).collect::<Vec<_>>().await.into_iter().collect()
    }

    /// [`wait_for_replicas`](Self::wait_for_replicas) on the resolved target `t`.
    async fn wait_resolved(&self, target: &TargetRef, t: &ResolvedTarget, w: &Wait) -> Result<Scale> {
        let Wait { replicas, ready, timeout, started, .. } = *w;
        let api = self.api_for(t);
        let resource = &t.resource;
        let info = Scale::of(t, &api.get_scale(&t.name).await?);
        let wanted = replicas.unwrap_or(info.spec_replicas);
        let what = format!("{target} {} replicas", if ready { "ready" } else { "" }).replace("  ", " ");
        let mut seen = -1;
        let work = async {
            let mut versions = std::pin::pin!(object_versions(api.clone(), t.name.clone()));
            while let Some(obj) = versions.try_next().await? {
                if self.settled(&api, resource, &obj, w, wanted, &mut seen).await? {
                    return Ok(Some(()));
                }
            }
            Ok(None)
        };
        let remaining = timeout.saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining, work).await {
            Ok(Ok(Some(()))) => Ok(Scale::of(t, &api.get_scale(&t.name).await?)),
            Ok(Ok(None)) => Err(Error::Api {
                status: 404,
                reason: "NotFound".into(),
                message: format!("{target} was deleted while waiting"),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::WaitTimeout { what, wanted, seen: seen.max(0), waited: timeout }),
        }
    }
}

/// Where [`object_versions`] is.
enum Following {
    /// About to read the object afresh.
    Read,
    /// Watching it from the version read.
    Watching(futures::stream::BoxStream<'static, kube::Result<WatchEvent<DynamicObject>>>),
}

/// The versions of the object `name` of `api`, as they come: a read, then a watch from its
/// resourceVersion, renewed every [`WATCH_SLICE`] seconds or when the server ends it (read
/// afresh when its version expired). The stream ends when the object is deleted (or was never
/// there).
pub(crate) fn object_versions(
    api: Api<DynamicObject>,
    name: String,
) -> impl futures::Stream<Item = Result<DynamicObject>> + Send + 'static {
    futures::stream::try_unfold(Following::Read, move |mut state| {
        let (api, name) = (api.clone(), name.clone());
        async move {
            loop {
                state = match state {
                    Following::Read => {
                        let Some(obj) = api.get_opt(&name).await? else { return Ok(None) };
                        let rv = obj.metadata.resource_version.clone().unwrap_or_default();
                        let wp = WatchParams::default().fields(&format!("metadata.name={name}")).timeout(WATCH_SLICE);
                        let stream = api.watch(&wp, &rv).await?.boxed();
                        return Ok(Some((obj, Following::Watching(stream))));
                    }
                    Following::Watching(mut stream) => match stream.try_next().await? {
                        Some(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
                            return Ok(Some((o, Following::Watching(stream))));
                        }
                        Some(WatchEvent::Deleted(_)) => return Ok(None),
                        // An expired resourceVersion, a bookmark or the watch's end: read afresh.
                        Some(WatchEvent::Bookmark(_) | WatchEvent::Error(_)) | None => Following::Read,
                    },
                }
            }
        }
    })
}
