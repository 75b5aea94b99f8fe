//! Events off the caller's path, as client-go's recorder does: a scale call queues its Event and
//! returns; one background task per handler writes them, aggregating repeats regarding the same
//! object (same type, reason and action) into one write that carries the newest note and how many
//! times it happened (marked "(combined from similar events): " when the notes differed, as
//! client-go's core/v1 recorder marks its aggregates), and rate-limiting writes per object (a
//! burst of 2, then one per 10 s), so that a storm of scales is a handful of Event writes, not
//! one per scale. client-go's events.k8s.io recorder writes the first occurrence and the start
//! of its series at once too, and then the series only every 30 minutes; here repeats reach the
//! server within 10 s, and at once when asked for (`events()`, a pass's end, `close()`).
//!
//! Two, so that the commonest pair of all, a scale to zero and the scale back, stays two Events
//! a user can find.
//!
//! Nothing is lost on the way out: [`EventQueue::flush`] writes everything queued so far (rate
//! limits aside) and is called by `events()`, at the end of a loop pass, on `close()` and at
//! interpreter exit ([`flush_all_events`]). A failure to write an Event is logged and counted; it never
//! fails or delays a scale.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use governor::{Quota, RateLimiter, clock::Clock};
use k8s_openapi::api::core::v1::ObjectReference;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::core::fence::Fence;
use crate::core::metrics::{ResultLabel, metrics};
use crate::core::scale::events::{EventRecorder, EventSpec, EventType, RegardingKey, regarding_key};

/// How long a flush of the queued Events waits at most: on close, at the end of `run()` and of
/// a pass, before `events()` lists them and at interpreter exit.
pub const EVENT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Writes per object before the limit applies.
const BURST: u32 = 2;
/// After the burst, one write per object per this long.
const REFILL: Duration = Duration::from_secs(10);
/// Objects with Events waiting at most; beyond, new ones are dropped (and counted).
const MAX_PENDING: usize = 10_000;

/// What makes two Events "the same" for aggregation: type, reason, action and the object.
type Key = (EventType, String, String, RegardingKey);

fn key(ev: &EventSpec, r: &ObjectReference) -> Key {
    (ev.type_, ev.reason.clone(), ev.action.clone(), regarding_key(r))
}

/// One Event as queued: what, regarding which object, and the Lease fence of the loop that
/// queued it, if a leader-elected loop did (then it is written only while that Lease is held).
type Occurrence = (EventSpec, ObjectReference, Option<Arc<Fence>>);

/// Occurrences waiting to be written: the newest of them and how many there were.
struct Pending {
    newest: EventSpec,
    regarding: ObjectReference,
    /// The newest occurrence's fence.
    fence: Option<Arc<Fence>>,
    count: i32,
    /// When the object was first queued (its place in a flush), and which hold entry is its own.
    seq: u64,
    /// Whether the occurrences differ in their notes (a scale up and a scale down, say).
    mixed: bool,
}

/// How a write that aggregates occurrences with different notes begins its note, as client-go's
/// core/v1 recorder marks its aggregates: "from 2 to 1, 3 times" must not be read into a scale
/// up, a scale down and a scale up.
const COMBINED: &str = "(combined from similar events): ";

impl Pending {
    /// The Event to write: the newest occurrence, its note marked when it stands for different ones.
    fn spec(&self) -> EventSpec {
        let mut spec = self.newest.clone();
        if self.mixed {
            spec.note = format!("{COMBINED}{}", spec.note);
        }
        spec
    }
}

/// The objects with Events waiting, and when each may be written.
///
/// An object queued since the last look is checked against the rate limit once; one held back
/// waits in a queue ordered by the time it may go, so a wake-up looks only at the objects whose
/// time has come.
#[derive(Default)]
struct Backlog {
    pending: HashMap<Key, Pending>,
    /// Objects queued since the last look, not yet checked against the limit.
    fresh: Vec<Key>,
    /// Held-back objects by the time they may go. An entry whose object was written meanwhile
    /// (a flush) is skipped: its `seq` is no longer the pending one's.
    held: BinaryHeap<Reverse<Deferred>>,
    next_seq: u64,
}

/// A held-back object: when it may go, and which of its pending Events was held.
struct Deferred {
    at: Instant,
    seq: u64,
    key: Key,
}

// Ordered by time, then by when first queued (`seq` is unique).
impl Ord for Deferred {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}
impl PartialOrd for Deferred {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Deferred {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for Deferred {}

impl Backlog {
    /// Adds one occurrence: to its object's pending Event, or as a new one (dropped, and
    /// counted, beyond [`MAX_PENDING`] objects).
    fn add(&mut self, (ev, regarding, fence): Occurrence) {
        let k = key(&ev, &regarding);
        let full = self.pending.len() >= MAX_PENDING;
        match self.pending.get_mut(&k) {
            Some(p) => {
                p.mixed |= p.newest.note != ev.note;
                p.newest = ev;
                p.fence = fence;
                p.count = p.count.saturating_add(1);
            }
            None if full => counted("dropped"),
            None => {
                self.next_seq += 1;
                self.fresh.push(k.clone());
                self.pending
                    .insert(k, Pending { newest: ev, regarding, fence, count: 1, seq: self.next_seq, mixed: false });
            }
        }
    }

    /// Takes the Events the limit lets go at `now`: `check` answers for one object, with how
    /// long it must still wait if not.
    fn take_due(&mut self, now: Instant, mut check: impl FnMut(&Key) -> Result<(), Duration>) -> Vec<Pending> {
        // The objects to look at: those queued since the last look, and held ones whose time has
        // come (unless written meanwhile). Each is asked about once per call.
        let fresh = std::mem::take(&mut self.fresh);
        let mut due: Vec<(Key, u64)> =
            fresh.into_iter().filter_map(|k| self.pending.get(&k).map(|p| p.seq).map(|seq| (k, seq))).collect();
        while self.held.peek().is_some_and(|Reverse(h)| h.at <= now) {
            let Some(Reverse(h)) = self.held.pop() else { break };
            if self.pending.get(&h.key).is_some_and(|p| p.seq == h.seq) {
                due.push((h.key, h.seq));
            }
        }
        let mut ready = Vec::new();
        for (k, seq) in due {
            match check(&k) {
                Ok(()) => ready.extend(self.pending.remove(&k)),
                Err(wait) => self.held.push(Reverse(Deferred { at: now + wait, seq, key: k })),
            }
        }
        ready
    }

    /// When the first held-back object may go.
    fn next_due(&self) -> Option<Instant> {
        self.held.peek().map(|Reverse(h)| h.at)
    }

    /// Takes every pending Event, rate limits aside, in the order their objects were first queued.
    fn take_all(&mut self) -> Vec<Pending> {
        self.fresh.clear();
        self.held.clear();
        let mut all: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        all.sort_unstable_by_key(|p| p.seq);
        all
    }
}

enum Command {
    Publish(Box<Occurrence>),
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
/// the task), for [`flush_all_events`] to wait for at interpreter exit.
static DRAINING: Mutex<Vec<(u32, tokio::task::JoinHandle<()>)>> = Mutex::new(Vec::new());

impl Drop for EventQueue {
    /// The writer goes on until it has written what was queued; [`flush_all_events`] waits for it.
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            let mut draining = DRAINING.lock().unwrap_or_else(|e| e.into_inner());
            draining.retain(|(_, w)| !w.is_finished());
            draining.push((self.pid, writer));
        }
    }
}

/// Every live queue of the process, for [`flush_all_events`] at interpreter exit.
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

    /// Queues an Event (never blocks; must run inside the runtime). Queued inside a fenced
    /// scope (`fence.rs`), it is written only while that fence holds.
    pub fn push(&self, ev: EventSpec, regarding: ObjectReference) {
        counted("queued");
        let occurrence = (ev, regarding, crate::core::fence::current());
        if self.sender().send(Command::Publish(Box::new(occurrence))).is_err() {
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
pub fn events_pending() -> bool {
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
/// queues already dropped (a handler that went out of scope) to finish; at most
/// [`EVENT_FLUSH_TIMEOUT`].
pub async fn flush_all_events() {
    let timeout = EVENT_FLUSH_TIMEOUT;
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
    let mut backlog = Backlog::default();
    loop {
        // Write what the limits allow.
        let ready = backlog.take_due(Instant::now(), |k| {
            limiter.check_key(k).map_err(|not_until| not_until.wait_time_from(clock.now()))
        });
        write_each(&recorder, ready).await;
        let first = match backlog.next_due() {
            Some(at) => tokio::select! {
                c = rx.recv() => c,
                () = tokio::time::sleep_until(at) => continue,
            },
            None => rx.recv().await,
        };
        let Some(first) = first else {
            write_each(&recorder, backlog.take_all()).await;
            return;
        };
        // Everything else already queued is taken too, before any write: a backlog (the
        // callers outpacing the writes) is aggregated, not written one occurrence at a time.
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Publish(published) => backlog.add(*published),
                Command::Flush(done) => {
                    // Commands come in order: everything queued before the flush is pending
                    // now. It is written, rate limits aside.
                    write_each(&recorder, backlog.take_all()).await;
                    let _ = done.send(());
                }
            }
            next = rx.try_recv().ok();
        }
    }
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
    let spec = p.spec();
    let publish = recorder.publish_n(&spec, &p.regarding, p.count);
    let written = match p.fence.clone() {
        Some(fence) => crate::core::fence::scope(fence, publish).await,
        None => publish.await,
    };
    match written {
        Ok(()) => counted("written"),
        Err(e @ crate::core::Error::LeaseLost(_)) => {
            counted("fenced");
            tracing::debug!(error = %e, reason = %p.newest.reason, "event not written");
        }
        Err(e) => {
            counted("failed");
            tracing::warn!(error = %e, reason = %p.newest.reason, "could not record an event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occurrence(name: &str, note: &str) -> Occurrence {
        let ev = EventSpec {
            type_: EventType::Normal,
            reason: "SuccessToScale".into(),
            action: "Scale".into(),
            note: note.into(),
        };
        (ev, ObjectReference { kind: Some("Deployment".into()), name: Some(name.into()), ..Default::default() }, None)
    }

    fn names(ready: &[Pending]) -> Vec<(String, String, i32)> {
        ready.iter().map(|p| (p.regarding.name.clone().unwrap(), p.newest.note.clone(), p.count)).collect()
    }

    #[test]
    fn repeats_on_one_object_are_one_event_with_the_newest_note_and_the_count() {
        let mut b = Backlog::default();
        b.add(occurrence("b", "Scaled from 0 to 1"));
        b.add(occurrence("a", "Scaled from 0 to 1"));
        b.add(occurrence("b", "Scaled from 1 to 0"));
        b.add(occurrence("b", "Scaled from 0 to 2"));
        let all = b.take_all();
        assert_eq!(
            names(&all),
            [("b".into(), "Scaled from 0 to 2".into(), 3), ("a".into(), "Scaled from 0 to 1".into(), 1)]
        );
        // The written note says when it stands for different changes; pure repeats keep it.
        assert_eq!(all[0].spec().note, "(combined from similar events): Scaled from 0 to 2");
        assert_eq!(all[1].spec().note, "Scaled from 0 to 1");
        b.add(occurrence("c", "Scaled from 1 to 2"));
        b.add(occurrence("c", "Scaled from 1 to 2"));
        assert_eq!(b.take_all()[0].spec().note, "Scaled from 1 to 2");
        assert!(b.take_all().is_empty());
    }

    #[test]
    fn a_held_object_waits_for_its_time_and_only_it_is_looked_at_then() {
        let mut b = Backlog::default();
        let t0 = Instant::now();
        for i in 0..100 {
            b.add(occurrence(&format!("d-{i}"), "Scaled from 0 to 1"));
        }
        // Every object is held: d-i may go after i + 1 seconds.
        let mut checks = 0;
        let ready = b.take_due(t0, |k| {
            checks += 1;
            let i: u64 = k.3[3].as_deref().unwrap()[2..].parse().unwrap();
            Err(Duration::from_secs(i + 1))
        });
        assert!(ready.is_empty());
        assert_eq!(checks, 100);
        assert_eq!(b.next_due(), Some(t0 + Duration::from_secs(1)));
        // More occurrences of a held object join its pending Event.
        b.add(occurrence("d-0", "Scaled from 1 to 0"));
        // Before anyone's time, nothing is asked of the limit.
        let mut checks = 0;
        assert!(
            b.take_due(t0 + Duration::from_millis(500), |_| {
                checks += 1;
                Ok(())
            })
            .is_empty()
        );
        assert_eq!(checks, 0);
        // At 2.5 s, d-0 and d-1 are due, and only they are looked at.
        let mut checks = 0;
        let ready = b.take_due(t0 + Duration::from_millis(2500), |_| {
            checks += 1;
            Ok(())
        });
        assert_eq!(checks, 2);
        assert_eq!(
            names(&ready),
            [("d-0".into(), "Scaled from 1 to 0".into(), 2), ("d-1".into(), "Scaled from 0 to 1".into(), 1)]
        );
        assert_eq!(b.next_due(), Some(t0 + Duration::from_secs(3)));
        // A flush takes the rest, in the order first queued; nothing is left held.
        let rest = b.take_all();
        assert_eq!(rest.len(), 98);
        assert_eq!(rest[0].regarding.name.as_deref(), Some("d-2"));
        assert_eq!(b.next_due(), None);
    }

    #[test]
    fn an_object_held_again_after_its_time_waits_again() {
        let mut b = Backlog::default();
        let t0 = Instant::now();
        b.add(occurrence("a", "x"));
        assert!(b.take_due(t0, |_| Err(Duration::from_secs(1))).is_empty());
        // Its time comes but the limit still says wait (another writer's share): held again.
        assert!(b.take_due(t0 + Duration::from_secs(1), |_| Err(Duration::from_secs(2))).is_empty());
        assert_eq!(b.next_due(), Some(t0 + Duration::from_secs(3)));
        assert_eq!(names(&b.take_due(t0 + Duration::from_secs(3), |_| Ok(()))), [("a".into(), "x".into(), 1)]);
    }
}
