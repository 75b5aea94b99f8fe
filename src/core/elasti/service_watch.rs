//! The loop's watch-fed state while it runs: ElastiServices from a watch (so a steady pass
//! lists nothing), metadata-only watches of the target types and of KEDA ScaledObjects (so a
//! steady pass reads no scale and no annotation; see `scale/target_watches.rs`), and the services
//! created or edited since the last pass, which the loop decides at once instead of at the next
//! pass.
//!
//! The watches run while `run` acts (while it leads, with leader election) and stop when it
//! returns; a pass reads them through its [`PassContext`](crate::core::elasti::pass_context::PassContext).
//! `check_and_scale` outside `run` reads from the API server.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use kube::api::DynamicObject;
use kube::runtime::watcher::Event;
use tokio::sync::{Notify, mpsc};

use crate::core::discovery::Resource;
use crate::core::elasti::controller::Controller;
use crate::core::elasti::service_api::api_resource;
use crate::core::informer::Informer;
use crate::core::target::TargetRef;

/// Targets of one type, as `(namespace, name)`.
type Targets = HashSet<(String, String)>;

/// The ElastiService watch and the services changed since they were last decided.
pub(crate) struct ServiceWatch {
    pub(crate) services: Arc<Informer<DynamicObject>>,
    changed: Mutex<mpsc::UnboundedReceiver<(String, String)>>,
    /// Woken when something was sent on `changed`.
    notify: Arc<Notify>,
    /// Whether the first pass since the watches started has run (it waits for them to fill).
    pub(crate) warmed: std::sync::atomic::AtomicBool,
}

/// What the ElastiService cache keeps: no managed fields.
fn strip(o: &mut DynamicObject) {
    o.metadata.managed_fields = None;
}

/// The loop's watches, stopped when dropped.
pub(crate) struct Watching<'a> {
    controller: &'a Controller,
    watch: Arc<ServiceWatch>,
}

impl Watching<'_> {
    /// The ElastiService watch, for the passes' context.
    pub fn watch(&self) -> Arc<ServiceWatch> {
        self.watch.clone()
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        self.controller.handler.stop_watching();
    }
}

impl ServiceWatch {
    /// The services created or edited since last asked (namespace, name), each once.
    pub fn take_changed(&self) -> Vec<(String, String)> {
        let mut rx = self.changed.lock().expect("watching poisoned");
        let mut keys = BTreeSet::new();
        while let Ok(k) = rx.try_recv() {
            keys.insert(k);
        }
        keys.into_iter().collect()
    }

    /// Resolves when a service was created or edited.
    pub async fn changed(&self) {
        if self.changed.lock().expect("watching poisoned").is_empty() {
            self.notify.notified().await;
        }
    }
}

impl Controller {
    /// Starts watching ElastiServices in the handler's scope; the target and ScaledObject
    /// watches start as passes meet their types. Everything stops when the guard drops.
    pub(crate) fn start_watching(&self) -> Watching<'_> {
        let api = self.services_watched();
        let (tx, rx) = mpsc::unbounded_channel();
        let notify = Arc::new(Notify::new());
        let wake = notify.clone();
        // uid → generation last seen: a new object or a new generation (a spec edit, a
        // deletion) is decided at once; status writes (the loop's own) are not.
        let generations: Mutex<HashMap<String, i64>> = Mutex::new(HashMap::new());
        let on_event = move |event: &Event<DynamicObject>| {
            let (o, announce) = match event {
                Event::InitApply(o) => (o, false),
                Event::Apply(o) => (o, true),
                Event::Delete(o) => {
                    if let Some(uid) = &o.metadata.uid {
                        generations.lock().expect("generations poisoned").remove(uid);
                    }
                    return;
                }
                Event::Init | Event::InitDone => return,
            };
            let (Some(uid), generation) = (o.metadata.uid.clone(), o.metadata.generation.unwrap_or(0)) else { return };
            let before = generations.lock().expect("generations poisoned").insert(uid, generation);
            if announce && before != Some(generation) {
                let ns = o.metadata.namespace.clone().unwrap_or_default();
                let _ = tx.send((ns, o.metadata.name.clone().unwrap_or_default()));
                wake.notify_one();
            }
        };
        let services = Informer::start(
            api,
            api_resource(),
            "elastiservices.elasti.truefoundry.com".into(),
            self.handler.watch_timeout(),
            strip,
            Some(Box::new(on_event)),
        );
        let watch = Arc::new(ServiceWatch {
            services: Arc::new(services),
            changed: Mutex::new(rx),
            notify,
            warmed: std::sync::atomic::AtomicBool::new(false),
        });
        Watching { controller: self, watch }
    }

    /// [`watch_types_of`](Self::watch_types_of) for a service's target and ScaledObject.
    pub(crate) async fn watch_types_of_service(&self, es: &crate::core::elasti::resource::ElastiService) {
        let t = &es.spec.scale_target_ref;
        if let Ok(target) = TargetRef::from_parts(&t.api_version, t.normalized_kind(), &t.name) {
            self.watch_types_of(&target, crate::core::elasti::service_api::keda_of(es).is_some()).await;
        }
    }

    /// Makes sure the target's type (and the ScaledObject type, for a service with KEDA) is
    /// watched; called while the loop watches. A type that cannot be resolved is left to the
    /// scale call to report.
    pub(crate) async fn watch_types_of(&self, target: &TargetRef, keda: bool) {
        if let Ok(r) = self.handler.resolve_scalable(&target.type_spec).await {
            self.handler.watch_kind(&r);
        }
        if keda && let Ok(r) = self.handler.resolve(&crate::core::scale::keda::scaled_object_type()).await {
            self.handler.watch_kind(&r);
        }
    }

    /// A new owner's first pass (a start, a new leader, shards taken over): learns the desired
    /// count of every service's target from paginated LISTs of the targets' types, one per type,
    /// instead of one read of each scale. A type whose LIST fails is read target by target.
    pub(crate) async fn learn_target_counts(&self, services: &[crate::core::elasti::resource::ElastiService]) {
        // By `(group, plural)`: the type, and the `(namespace, name)` of its targets.
        let mut by_type: HashMap<(String, String), (Resource, Targets)> = HashMap::new();
        for es in services {
            let t = &es.spec.scale_target_ref;
            let Ok(target) = TargetRef::from_parts(&t.api_version, t.normalized_kind(), &t.name) else { continue };
            let Ok(resource) = self.handler.resolve_scalable(&target.type_spec).await else { continue };
            let namespace = es.metadata.namespace.clone().unwrap_or_default();
            by_type
                .entry((resource.group.clone(), resource.plural.clone()))
                .or_insert_with(|| (resource, HashSet::new()))
                .1
                .insert((namespace, target.name.clone()));
        }
        for (resource, targets) in by_type.into_values() {
            match self.handler.learn_counts(&resource, &targets).await {
                Ok(n) => {
                    tracing::debug!(resource = %resource.plural, learned = n, of = targets.len(), "target counts learned from a list")
                }
                Err(e) => {
                    tracing::info!(resource = %resource.plural, error = %e, "listing the targets failed; their counts are read one by one")
                }
            }
        }
    }
}
