//! The threads that run Python scalers: a queue of calls and a few threads that drain it, each
//! holding the GIL across the calls it finds waiting.
//!
//! A thread per call (tokio's blocking pool) made every call two thread wake-ups and a GIL
//! hand-over, and in a steady pass over thousands of services that switching dominated the
//! process's CPU (benches/PROFILE.md). Here one thread takes the GIL once and answers call after
//! call while the queue has any.
//!
//! A scaler that is slow or never returns must cost its own service only: when the queue has
//! waited [`STALL`] without any call starting or ending, another thread is started to drain it
//! (callers waiting on the queue ask for that check, see [`Pool::call`]). The stuck thread stays
//! with its call, as before.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::core::per_process::PerProcess;

/// How long the queue may wait without progress before another thread is started.
const STALL: Duration = Duration::from_millis(20);
/// How long a thread with nothing to do stays for more work.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// One call: runs with the GIL (or is dropped unrun while the interpreter is finalizing).
type Job = Box<dyn FnOnce(Python<'_>) + Send>;

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Threads alive.
    threads: usize,
    /// Threads waiting for work.
    idle: usize,
    /// When a call last started or ended.
    progress: Option<Instant>,
}

/// The queue and its threads (one per process: threads do not survive `fork()`).
#[derive(Default)]
pub struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

/// This process's pool.
pub fn pool() -> &'static Arc<Pool> {
    static POOL: PerProcess<Arc<Pool>> = PerProcess::new();
    POOL.get(Default::default)
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with the GIL on one of the pool's threads and waits for its result, at most
    /// `timeout` (`None`: the time ran out, or the call was dropped unrun at exit). A call whose
    /// caller stopped waiting before it started is never run.
    pub async fn call<T, F>(self: &Arc<Self>, timeout: Duration, f: F) -> Option<T>
    where
        F: FnOnce(Python<'_>) -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, mut rx) = oneshot::channel();
        self.submit(Box::new(move |py| {
            if !tx.is_closed() {
                let _ = tx.send(f(py));
            }
        }));
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let wake = (tokio::time::Instant::now() + STALL).min(deadline);
            match tokio::time::timeout_at(wake, &mut rx).await {
                Ok(result) => return result.ok(),
                Err(_) if wake >= deadline => return None,
                Err(_) => self.unstall(),
            }
        }
    }

    fn submit(self: &Arc<Self>, job: Job) {
        let mut state = self.lock();
        state.jobs.push_back(job);
        if state.idle > 0 {
            drop(state);
            self.work.notify_one();
        } else if state.threads == 0 {
            self.start(state);
        }
    }

    /// Starts another thread if the queue has work that no thread is getting to.
    fn unstall(self: &Arc<Self>) {
        let state = self.lock();
        let stalled = state.progress.is_none_or(|t| t.elapsed() >= STALL);
        if !state.jobs.is_empty() && state.idle == 0 && stalled {
            self.start(state);
        }
    }

    fn start(self: &Arc<Self>, mut state: std::sync::MutexGuard<'_, State>) {
        state.threads += 1;
        state.progress = Some(Instant::now());
        drop(state);
        let pool = self.clone();
        let spawned = std::thread::Builder::new().name("kubescale-scaler".into()).spawn(move || pool.work());
        if spawned.is_err() {
            self.lock().threads -= 1;
        }
    }

    /// The next call, waiting up to [`KEEP_ALIVE`] for one; `None` ends the thread.
    fn next(&self, wait: bool) -> Option<Job> {
        let mut state = self.lock();
        if wait {
            state.idle += 1;
            let (s, _) = self
                .work
                .wait_timeout_while(state, KEEP_ALIVE, |s| s.jobs.is_empty())
                .unwrap_or_else(|e| e.into_inner());
            state = s;
            state.idle -= 1;
        }
        let job = state.jobs.pop_front();
        if job.is_some() {
            state.progress = Some(Instant::now());
        } else if wait {
            state.threads -= 1;
        }
        job
    }

    fn done(&self) {
        self.lock().progress = Some(Instant::now());
    }

    /// A thread's life: take the GIL, answer the calls waiting, give the GIL back while there
    /// are none.
    fn work(&self) {
        let Some(first) = self.next(false) else {
            self.lock().threads -= 1;
            return;
        };
        if super::FINALIZING.load(Ordering::Relaxed) {
            drop(first);
            self.lock().threads -= 1;
            return;
        }
        // An interpreter shutting down gives no GIL: the call is dropped (its caller is told).
        let attached = Python::try_attach(|py| {
            let mut job = first;
            loop {
                // A panic is the call's failure (its caller is told it did not complete), not
                // the thread's.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(py)));
                self.done();
                job = match self.next(false) {
                    Some(j) => j,
                    None => match py.detach(|| self.next(true)) {
                        Some(j) if !super::FINALIZING.load(Ordering::Relaxed) => j,
                        Some(_) => {
                            self.lock().threads -= 1;
                            return;
                        }
                        None => return,
                    },
                };
            }
        });
        if attached.is_none() {
            self.lock().threads -= 1;
        }
    }
}
