//! Waiting for a target's replicas with a watch.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::api::{DynamicObject, WatchEvent, WatchParams};

use crate::core::discovery::Resource;
use crate::core::error::{Error, Result};
use crate::core::scale::Scale;
use crate::core::scale::handler::ScaleHandler;
use crate::core::target::TargetRef;

/// Kinds whose status reports `readyReplicas` (omitted when 0).
const READY_REPORTING: &[&str] = &["Deployment", "StatefulSet", "ReplicaSet", "ReplicationController", "Rollout"];
/// A watch request lasts at most this long before it is renewed.
const WATCH_SLICE: u32 = 20;

fn int_at(obj: &DynamicObject, path: &[&str]) -> Option<i64> {
    let mut v = &obj.data;
    for p in path {
        v = v.get(p)?;
    }
    v.as_i64()
}

/// The count a wait compares: ready replicas when asked for and reported, else status replicas.
/// `None` while the controller has not yet observed the latest spec.
fn observed(resource: &Resource, obj: &DynamicObject, ready: bool) -> Option<i32> {
    if let (Some(observed), Some(generation)) =
        (int_at(obj, &["status", "observedGeneration"]), obj.metadata.generation)
        && observed < generation
    {
        return None;
    }
    let replicas = int_at(obj, &["status", "replicas"]).unwrap_or(0);
    let ready_count = int_at(obj, &["status", "readyReplicas"]);
    let count = match (ready, ready_count) {
        (true, Some(r)) => r,
        (true, None) if READY_REPORTING.contains(&resource.kind.as_str()) => 0,
        _ => replicas,
    };
    Some(i32::try_from(count).unwrap_or(i32::MAX))
}

impl ScaleHandler {
    /// Waits until the target's ready count (or status count) equals `replicas` (default: its spec).
    pub async fn wait_for_replicas(
        &self,
        target: &TargetRef,
        replicas: Option<i32>,
        ready: bool,
        timeout: Duration,
        namespace: Option<&str>,
    ) -> Result<Scale> {
        let started = Instant::now();
        let info = self.get_scale(target, namespace).await?;
        let wanted = replicas.unwrap_or(info.spec_replicas);
        let resource = self.resolve_scalable(&target.type_spec).await?;
        let api = self.dynamic_api(&resource, &info.namespace);
        let what = format!("{target} {} replicas", if ready { "ready" } else { "" }).replace("  ", " ");
        let mut seen = -1;
        let done = |obj: &DynamicObject, seen: &mut i32| -> bool {
            let status_replicas = int_at(obj, &["status", "replicas"]).unwrap_or(0);
            match observed(&resource, obj, ready) {
                Some(count) => {
                    *seen = count;
                    // Settled: the surplus pods of a scale-down are gone, not merely unready.
                    count == wanted && status_replicas == i64::from(wanted)
                }
                None => false,
            }
        };
        let work = async {
            loop {
                let obj = api.get(&target.name).await?;
                if done(&obj, &mut seen) {
                    return Ok(());
                }
                let rv = obj.metadata.resource_version.clone().unwrap_or_default();
                let wp = WatchParams::default().fields(&format!("metadata.name={}", target.name)).timeout(WATCH_SLICE);
                let mut stream = api.watch(&wp, &rv).await?.boxed();
                while let Some(ev) = stream.try_next().await? {
                    match ev {
                        WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                            if done(&o, &mut seen) {
                                return Ok(());
                            }
                        }
                        WatchEvent::Deleted(_) => {
                            return Err(Error::Api {
                                status: 404,
                                reason: "NotFound".into(),
                                message: format!("{target} was deleted while waiting"),
                            });
                        }
                        // An expired resourceVersion or a bookmark: start again from a fresh read.
                        WatchEvent::Bookmark(_) | WatchEvent::Error(_) => break,
                    }
                }
            }
        };
        let remaining = timeout.saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining, work).await {
            Ok(Ok(())) => {
                self.get_scale(target, Some(&info.namespace).filter(|n| !n.is_empty()).map(String::as_str)).await
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::WaitTimeout { what, wanted, seen: seen.max(0), waited: started.elapsed() }),
        }
    }
}
