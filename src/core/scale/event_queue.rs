//! Events off the caller's path, as client-go's recorder does: a scale call queues its Event and
//! returns; one background task per handler writes them, aggregating repeats regarding the same
//! object (same type, reason and action) into one write that carries the newest note and how many
//! times it happened, and rate-limiting writes per object (a burst of 2, then one per 10 s), so
//! that a storm of scales is a handful of Event writes, not one per scale. client-go's
//! events.k8s.io recorder writes the first occurrence and the start of its series at once too,
//! and then the series only every 30 minutes; here repeats reach the server within 10 s, and at
//! once when asked for (`events()`, a pass's end, `close()`).
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
const BURST: u32 = 2;
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
    /// The writer task, once started.
    writer: OnceLock<tokio::task::JoinHandle<()>>,
    /// The process whose runtime runs the writer (a forked child has none of it).
    pid: u32,
}

/// Writers of dropped queues still writing what was queued (the process that ran them, and
/// the task), for [`flush_all`] to wait for at interpreter exit.
static DRAINING: Mutex<Vec<(u32, tokio::task::JoinHandle<()>)>> = Mutex::new(Vec::new());

impl Drop for EventQueue {
    /// The writer goes on until it has written what was queued; [`flush_all`] waits for it.
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            let mut draining = DRAINING.lock().unwrap_or_else(|e| e.into_inner());
            draining.retain(|(_, w)| !w.is_finished());
            draining.push((self.pid, writer));
        }
    }
}

/// Every live queue of the process, for [`flush_all`] at interpreter exit.
static QUEUES: Mutex<Vec<Weak<EventQueue>>> = Mutex::new(Vec::new());

impl EventQueue {
    /// A queue writing through `recorder`.
    pub fn new(recorder: Arc<EventRecorder>) -> Arc<Self> {
        let q =
            Arc::new(EventQueue { recorder, tx: OnceLock::new(), writer: OnceLock::new(), pid: std::process::id() });
        let mut all = QUEUES.lock().expect("queue registry poisoned");
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&q));
        q
    }

    fn sender(&self) -> &mpsc::UnboundedSender<Command> {
        self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let _ = self.writer.set(tokio::spawn(writer(self.recorder.clone(), rx)));
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

/// Whether any queue of this process has started its writer (also one of a dropped queue that
/// may still be writing).
pub fn any_started() -> bool {
    let pid = std::process::id();
    let draining =
        DRAINING.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|(p, w)| *p == pid && !w.is_finished());
    draining
        || QUEUES
            .lock()
            .expect("queue registry poisoned")
            .iter()
            .filter_map(Weak::upgrade)
            .any(|q| q.pid == pid && q.tx.get().is_some())
}

/// Flushes every live queue of the process (at interpreter exit), and waits for the writers of
/// queues already dropped (a handler that went out of scope) to finish; at most `timeout`.
pub async fn flush_all(timeout: Duration) {
    let queues: Vec<Arc<EventQueue>> =
        QUEUES.lock().expect("queue registry poisoned").iter().filter_map(Weak::upgrade).collect();
    let pid = std::process::id();
    let draining: Vec<_> = std::mem::take(&mut *DRAINING.lock().unwrap_or_else(|e| e.into_inner()))
        .into_iter()
        .filter_map(|(p, w)| (p == pid).then_some(w))
        .collect();
    let live = futures::future::join_all(queues.iter().map(|q| q.flush(timeout)));
    let dropped = tokio::time::timeout(timeout, futures::future::join_all(draining));
    let (_, drained) = futures::join!(live, dropped);
    if drained.is_err() {
        tracing::warn!(?timeout, "Events of a closed handler still being written at exit");
    }
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
        let mut ready = Vec::new();
        // One walk over the waiting objects (not a removal from the middle per object: a
        // pass of 10,000 services queues 10,000 of them).
        let mut held = Vec::with_capacity(order.len());
        for k in order.drain(..) {
            match limiter.check_key(&k) {
                Ok(()) => ready.extend(pending.remove(&k)),
                Err(not_until) => {
                    let wait = not_until.wait_time_from(clock.now());
                    wake = Some(wake.map_or(wait, |w| w.min(wait)));
                    held.push(k);
                }
            }
        }
        order = held;
        write_each(&recorder, ready).await;
        let first = match wake {
            Some(wait) => tokio::select! {
                c = rx.recv() => c,
                () = tokio::time::sleep(wait) => continue,
            },
            None => rx.recv().await,
        };
        let Some(first) = first else {
            write_all(&recorder, &mut pending, &mut order).await;
            return;
        };
        // Everything else already queued is taken too, before any write: a backlog (the
        // callers outpacing the writes) is aggregated, not written one occurrence at a time.
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Publish(published) => aggregate(&mut pending, &mut order, *published),
                Command::Flush(done) => {
                    // Commands come in order: everything queued before the flush is pending
                    // now. It is written, rate limits aside.
                    write_all(&recorder, &mut pending, &mut order).await;
                    let _ = done.send(());
                }
            }
            next = rx.try_recv().ok();
        }
    }
}

/// Adds one occurrence to the pending Events: to its object's, or as a new one at the end of
/// `order` (dropped, and counted, beyond [`MAX_PENDING`] objects).
fn aggregate(pending: &mut HashMap<Key, Pending>, order: &mut Vec<Key>, (ev, regarding): (EventSpec, ObjectReference)) {
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

/// Writes every pending Event, in the order they were first queued.
async fn write_all(recorder: &EventRecorder, pending: &mut HashMap<Key, Pending>, order: &mut Vec<Key>) {
    let ready = order.drain(..).filter_map(|k| pending.remove(&k)).collect();
    write_each(recorder, ready).await;
}

/// Events of different objects written at once (over one HTTP/2 connection): one after another,
/// a backlog of a few hundred took a second to write, and `close()` waited for it.
const WRITES_IN_FLIGHT: usize = 16;

/// Writes `ready` (Events of distinct objects), up to [`WRITES_IN_FLIGHT`] at a time.
async fn write_each(recorder: &EventRecorder, ready: Vec<Pending>) {
    use futures::StreamExt as _;
    futures::stream::iter(ready).for_each_concurrent(WRITES_IN_FLIGHT, |p| write(recorder, p)).await;
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
