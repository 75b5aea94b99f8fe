//! Events off the caller's path, as client-go's recorder does: a scale call queues its Event and
//! returns; one background task per handler writes them, aggregating repeats regarding the same
//! object (same type, reason and action) into one write that carries the newest note and how many
//! times it happened, and rate-limiting writes per object (a burst of 10, then one per 10 s), so
//! that a storm of scales is a handful of Event writes, not one per scale.
//!
//! Nothing is lost on the way out: [`EventQueue::flush`] writes everything queued so far (rate
//! limits aside) and is called by `events()`, at the end of a loop pass, on `close()` and at
//! interpreter exit ([`flush_all`]). A failure to write an Event is logged and counted; it never
//! fails or delays a scale.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use governor::{Quota, RateLimiter, clock::Clock};
use k8s_openapi::api::core::v1::ObjectReference;
use tokio::sync::{mpsc, oneshot};

use crate::core::metrics::{ResultLabel, metrics};
use crate::core::scale::events::{EventRecorder, EventSpec, EventType};

/// Writes per object before the limit applies.
const BURST: u32 = 10;
/// After the burst, one write per object per this long.
const REFILL: Duration = Duration::from_secs(10);
/// Objects with Events waiting at most; beyond, new ones are dropped (and counted).
const MAX_PENDING: usize = 10_000;

/// What makes two Events "the same" for aggregation: type, reason, action and the object.
type Key = (EventType, String, String, [Option<String>; 5]);

fn key(ev: &EventSpec, r: &ObjectReference) -> Key {
    let regarding = [r.api_version.clone(), r.kind.clone(), r.namespace.clone(), r.name.clone(), r.uid.clone()];
    (ev.type_, ev.reason.clone(), ev.action.clone(), regarding)
}

/// Occurrences waiting to be written: the newest of them and how many there were.
struct Pending {
    newest: EventSpec,
    regarding: ObjectReference,
    count: i32,
}

enum Command {
    Publish(Box<(EventSpec, ObjectReference)>),
    Flush(oneshot::Sender<()>),
}

fn counted(result: &str) {
    metrics().event_writes.get_or_create(&ResultLabel { result: result.into() }).inc();
}

/// A handler's Event queue; the writer task starts with the first Event.
pub struct EventQueue {
    recorder: Arc<EventRecorder>,
    tx: OnceLock<mpsc::UnboundedSender<Command>>,
    /// The process whose runtime runs the writer (a forked child has none of it).
    pid: u32,
}

/// Every live queue of the process, for [`flush_all`] at interpreter exit.
static QUEUES: Mutex<Vec<Weak<EventQueue>>> = Mutex::new(Vec::new());

impl EventQueue {
    /// A queue writing through `recorder`.
    pub fn new(recorder: Arc<EventRecorder>) -> Arc<Self> {
        let q = Arc::new(EventQueue { recorder, tx: OnceLock::new(), pid: std::process::id() });
        let mut all = QUEUES.lock().expect("queue registry poisoned");
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&q));
        q
    }

    fn sender(&self) -> &mpsc::UnboundedSender<Command> {
        self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(writer(self.recorder.clone(), rx));
            tx
        })
    }

    /// Queues an Event (never blocks; must run inside the runtime).
    pub fn push(&self, ev: EventSpec, regarding: ObjectReference) {
        counted("queued");
        if self.sender().send(Command::Publish(Box::new((ev, regarding)))).is_err() {
            counted("dropped");
        }
    }

    /// Writes everything queued before this call, waiting at most `timeout`.
    pub async fn flush(&self, timeout: Duration) {
        let Some(tx) = self.tx.get().filter(|_| self.pid == std::process::id()) else { return };
        let (done, wait) = oneshot::channel();
        if tx.send(Command::Flush(done)).is_ok() && tokio::time::timeout(timeout, wait).await.is_err() {
            tracing::warn!(?timeout, "Events still being written after the flush timeout");
        }
    }
}

/// Whether any queue of this process has started its writer.
pub fn any_started() -> bool {
    let pid = std::process::id();
    QUEUES
        .lock()
        .expect("queue registry poisoned")
        .iter()
        .filter_map(Weak::upgrade)
        .any(|q| q.pid == pid && q.tx.get().is_some())
}

/// Flushes every live queue of the process (at interpreter exit), each waiting at most `timeout`.
pub async fn flush_all(timeout: Duration) {
    let queues: Vec<Arc<EventQueue>> =
        QUEUES.lock().expect("queue registry poisoned").iter().filter_map(Weak::upgrade).collect();
    futures::future::join_all(queues.iter().map(|q| q.flush(timeout))).await;
}

/// The writer task: aggregates, rate-limits and writes until the queue is dropped.
async fn writer(recorder: Arc<EventRecorder>, mut rx: mpsc::UnboundedReceiver<Command>) {
    let quota =
        Quota::with_period(REFILL).expect("a non-zero period").allow_burst(NonZeroU32::new(BURST).expect("non-zero"));
    let limiter = RateLimiter::hashmap(quota);
    let clock = governor::clock::DefaultClock::default();
    let mut pending: HashMap<Key, Pending> = HashMap::new();
    let mut order: Vec<Key> = Vec::new();
    loop {
        // Write what the limits allow; note when the next held-back object may go.
        let mut wake: Option<Duration> = None;
        let mut i = 0;
        while i < order.len() {
            match limiter.check_key(&order[i]) {
                Ok(()) => {
                    let k = order.remove(i);
                    if let Some(p) = pending.remove(&k) {
                        write(&recorder, p).await;
                    }
                }
                Err(not_until) => {
                    let wait = not_until.wait_time_from(clock.now());
                    wake = Some(wake.map_or(wait, |w| w.min(wait)));
                    i += 1;
                }
            }
        }
        let command = match wake {
            Some(wait) => tokio::select! {
                c = rx.recv() => c,
                () = tokio::time::sleep(wait) => continue,
            },
            None => rx.recv().await,
        };
        match command {
            Some(Command::Publish(published)) => {
                let (ev, regarding) = *published;
                let k = key(&ev, &regarding);
                let full = pending.len() >= MAX_PENDING;
                match pending.get_mut(&k) {
                    Some(p) => {
                        p.newest = ev;
                        p.count = p.count.saturating_add(1);
                    }
                    None if full => counted("dropped"),
                    None => {
                        order.push(k.clone());
                        pending.insert(k, Pending { newest: ev, regarding, count: 1 });
                    }
                }
            }
            Some(Command::Flush(done)) => {
                // Commands come in order: everything queued before the flush is pending now.
                // It is written, rate limits aside.
                write_all(&recorder, &mut pending, &mut order).await;
                let _ = done.send(());
            }
            None => {
                write_all(&recorder, &mut pending, &mut order).await;
                return;
            }
        }
    }
}

/// Writes every pending Event, in the order they were first queued.
async fn write_all(recorder: &EventRecorder, pending: &mut HashMap<Key, Pending>, order: &mut Vec<Key>) {
    for k in order.drain(..) {
        if let Some(p) = pending.remove(&k) {
            write(recorder, p).await;
        }
    }
}

async fn write(recorder: &EventRecorder, p: Pending) {
    match recorder.publish_n(&p.newest, &p.regarding, p.count).await {
        Ok(()) => counted("written"),
        Err(e) => {
            counted("failed");
            tracing::warn!(error = %e, reason = %p.newest.reason, "could not record an event");
        }
    }
}
