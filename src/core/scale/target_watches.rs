//! Metadata-only watches of target types (and KEDA ScaledObjects), which let the scale path
//! skip reads: a scale seen at resourceVersion R is still current while the watch reports the
//! object at R. The loop starts them while it runs ([`ScaleHandler::watch_kind`]); without one,
//! or while one is not live, every read goes to the API server as before.
//!
//! The cache is never trusted for a write: writes keep their tested form (the count seen, or
//! the resourceVersion), so a stale cache costs a retry, never a lost update.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Api;
use kube::api::DynamicObject;
use kube::core::PartialObjectMeta;

use crate::core::discovery::Resource;
use crate::core::informer::Informer;
use crate::core::scale::handler::ScaleHandler;
use crate::core::scale::operations::PREVIOUS_REPLICAS_ANNOTATION;

/// The metadata of one watched object.
pub type Meta = PartialObjectMeta<DynamicObject>;

/// A metadata-only watch of one type in the handler's scope.
pub type MetaInformer = Informer<Meta>;

/// The watches, by `(group, plural)`.
#[derive(Default)]
pub struct TargetWatches {
    informers: Mutex<HashMap<(String, String), Arc<MetaInformer>>>,
}

/// What the cache keeps of a watched object: its identity and resourceVersion, and only the
/// annotations kubescale reads (KEDA's and the remembered count), not labels, managed fields
/// or `kubectl`'s last-applied configuration.
fn strip(m: &mut Meta) {
    let md = &mut m.metadata;
    md.managed_fields = None;
    md.labels = None;
    md.owner_references = None;
    if let Some(a) = md.annotations.as_mut() {
        a.retain(|k, _| k.starts_with("autoscaling.keda.sh/") || k == PREVIOUS_REPLICAS_ANNOTATION);
    }
}

impl ScaleHandler {
    /// Starts (once) a metadata-only watch of `resource` in the handler's scope: its watch
    /// namespace, or every namespace without one. Must run inside the runtime.
    pub fn watch_kind(&self, resource: &Resource) -> Arc<MetaInformer> {
        let key = (resource.group.clone(), resource.plural.clone());
        let mut map = self.target_watches.informers.lock().expect("watches poisoned");
        map.entry(key)
            .or_insert_with(|| {
                let ar = resource.api_resource();
                let api: Api<Meta> = match (resource.namespaced, self.watch_namespace()) {
                    (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &ar),
                    _ => Api::all_with(self.client.clone(), &ar),
                };
                let what = format!("{}.{}", resource.plural, resource.group);
                Arc::new(Informer::start(api, ar, what, self.watch_timeout, strip, None))
            })
            .clone()
    }

    /// What the watch of `resource` says of `namespace/name`: `None` when there is no live
    /// watch (read from the API server), `Some(None)` when the object is not in it.
    pub(crate) fn watched_meta(&self, resource: &Resource, namespace: &str, name: &str) -> Option<Option<Arc<Meta>>> {
        let key = (resource.group.clone(), resource.plural.clone());
        let informer = self.target_watches.informers.lock().expect("watches poisoned").get(&key).cloned()?;
        informer.get(if resource.namespaced { namespace } else { "" }, name)
    }

    /// Waits up to `within` for every started watch to be live.
    pub async fn watches_ready(&self, within: Duration) -> bool {
        let all: Vec<_> = self.target_watches.informers.lock().expect("watches poisoned").values().cloned().collect();
        let mut ready = true;
        for i in all {
            ready &= i.ready(within).await;
        }
        ready
    }

    /// Stops every watch; reads go to the API server again.
    pub fn stop_watching(&self) {
        self.target_watches.informers.lock().expect("watches poisoned").clear();
    }
}
