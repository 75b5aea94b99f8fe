//! A watch-fed cache of one resource type in one scope (a namespace or the cluster), as
//! client-go's informers and kube-runtime's `reflector` keep them: a LIST, then a WATCH from
//! its resourceVersion, kept in a [`Store`] by kube-runtime's reflector.
//!
//! What this adds to kube-runtime's building blocks is the rule for trusting the cache: it
//! answers only while it is *live*, from the end of a complete LIST until the next error of the
//! stream. An error (a dropped connection, an API server restart, `410 Gone`, RBAC refusing the
//! watch) makes it answer nothing, so callers read from the API server instead, and restarts it
//! with a fresh LIST after a backoff (1 s doubling to 60 s). A watch ends normally before the
//! client's read timeout (the server closes it), and is resumed from the last resourceVersion
//! without a LIST.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kube::Api;
use kube::Resource;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;

/// Called with every event of the watch (after `strip`, before the store applies it).
pub type OnEvent<K> = Box<dyn Fn(&Event<K>) + Send + Sync>;

/// The longest a backoff between restarts gets.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A live-or-not cache of one resource type in one scope; the watch stops when it is dropped.
pub struct Informer<K>
where
    K: Resource + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    store: Store<K>,
    dyntype: K::DynamicType,
    live: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    what: String,
}

impl<K> Informer<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync + Debug,
{
    /// Starts watching what `api` lists (`what` names it in logs), each watch request asking the
    /// server to end it after `watch_timeout` (below the client's read timeout); `on_event` sees
    /// every event of the stream, `strip` trims what the store keeps of each. Must run
    /// inside the runtime.
    pub fn start(
        api: Api<K>,
        dyntype: K::DynamicType,
        what: String,
        watch_timeout: Duration,
        strip: fn(&mut K),
        on_event: Option<OnEvent<K>>,
    ) -> Self {
        let mut writer = Writer::new(dyntype.clone());
        let store = writer.as_reader();
        let live = Arc::new(AtomicBool::new(false));
        let timeout = u32::try_from(watch_timeout.as_secs()).unwrap_or(290).clamp(1, 290);
        let config = watcher::Config::default().timeout(timeout);
        let task = {
            let live = live.clone();
            let what = what.clone();
            tokio::spawn(async move {
                let mut backoff = Duration::from_secs(1);
                let mut failures = 0u32;
                loop {
                    let stream = watcher::watcher(api.clone(), config.clone());
                    futures::pin_mut!(stream);
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(event) => {
                                let event = event.modify(strip);
                                if let Some(f) = &on_event {
                                    f(&event);
                                }
                                writer.apply_watcher_event(&event);
                                if matches!(event, Event::InitDone) {
                                    live.store(true, Ordering::Release);
                                    backoff = Duration::from_secs(1);
                                    if failures > 0 {
                                        tracing::info!(watch = %what, "watching again");
                                    }
                                    failures = 0;
                                    tracing::debug!(watch = %what, "cache filled");
                                }
                            }
                            Err(e) => {
                                live.store(false, Ordering::Release);
                                failures += 1;
                                if failures == 1 {
                                    tracing::warn!(watch = %what, error = %e, "watch failed; reading from the API server until it is back");
                                } else {
                                    tracing::debug!(watch = %what, error = %e, failures, "watch failed again");
                                }
                                break;
                            }
                        }
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            })
        };
        Informer { store, dyntype, live, task, what }
    }

    /// Whether the cache answers (filled by a complete LIST, no error since).
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Waits up to `within` for the cache to be live; returns whether it is.
    pub async fn ready(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !self.is_live() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// The object `namespace/name` (empty namespace: cluster-scoped): `None` when the cache is
    /// not live (ask the API server), `Some(None)` when it has no such object.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Option<Arc<K>>> {
        if !self.is_live() {
            return None;
        }
        let mut key = ObjectRef::<K>::new_with(name, self.dyntype.clone());
        if !namespace.is_empty() {
            key = key.within(namespace);
        }
        Some(self.store.get(&key))
    }

    /// Every cached object, or `None` when the cache is not live.
    pub fn list(&self) -> Option<Vec<Arc<K>>> {
        self.is_live().then(|| self.store.state())
    }
}

impl<K> Drop for Informer<K>
where
    K: Resource + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    fn drop(&mut self) {
        self.task.abort();
        tracing::debug!(watch = %self.what, "watch stopped");
    }
}

impl<K> Debug for Informer<K>
where
    K: Resource + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Informer").field("what", &self.what).field("live", &self.live.load(Ordering::Relaxed)).finish()
    }
}
