//! The threads that run Python scalers: a queue of calls and a few threads that drain it, each
//! holding the GIL across the calls it finds waiting.
//!
//! One thread takes the GIL once and answers call after call while the queue has any.
//!
//! Calls that take a while — a scaler waiting on I/O with the GIL released, one that is slow, one
//! that never returns — must not hold up the calls queued behind them: when the oldest queued
//! call has waited [`STALL`] and no thread is idle, another thread is started (callers waiting
//! on the queue ask for that check, see [`Pool::call`]). So cheap calls are answered by one
//! thread, and calls that wait run side by side, as many as the callers allow (the loop's
//! `scaler_concurrency`). A stuck thread stays with its call.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::core::per_process::PerProcess;

/// How long a queued call may wait, with no thread idle, before another thread is started.
const STALL: Duration = Duration::from_millis(5);
/// How long a thread with nothing to do stays for more work.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// One call: runs with the GIL (or is dropped unrun while the interpreter is finalizing).
type Job = Box<dyn FnOnce(Python<'_>) + Send>;

#[derive(Default)]
struct State {
    /// Calls not started yet, each with the time it was queued.
    jobs: VecDeque<(Instant, Job)>,
    /// Threads alive.
    threads: usize,
    /// Threads waiting for work.
    idle: usize,
    /// Threads started that have not taken their first call yet.
    starting: usize,
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
        state.jobs.push_back((Instant::now(), job));
        if state.idle > 0 {
            drop(state);
            self.work.notify_one();
        } else if state.threads == 0 {
            self.start(state);
        }
    }

    /// Starts another thread if the oldest queued call has waited [`STALL`] and no thread is
    /// free to take it.
    fn unstall(self: &Arc<Self>) {
        let state = self.lock();
        let stalled = state.jobs.front().is_some_and(|(queued, _)| queued.elapsed() >= STALL);
        if stalled && state.idle == 0 && state.starting == 0 {
            self.start(state);
        }
    }

    fn start(self: &Arc<Self>, mut state: std::sync::MutexGuard<'_, State>) {
        state.threads += 1;
        state.starting += 1;
        drop(state);
        let pool = self.clone();
        let spawned = std::thread::Builder::new().name("kubescale-scaler".into()).spawn(move || pool.work());
        if spawned.is_err() {
            let mut state = self.lock();
            state.threads -= 1;
            state.starting -= 1;
        }
    }

    /// The next call, waiting up to [`KEEP_ALIVE`] for one; `None` ends the thread (`alive`
    /// is counted out under the same lock, so a call queued right after starts a thread).
    fn next(&self, wait: bool, alive: &mut Alive<'_>) -> Option<Job> {
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
        let job = state.jobs.pop_front().map(|(_, job)| job);
        if job.is_none() && wait {
            alive.count_out(&mut state);
        }
        job
    }

    /// A thread's life: take the GIL, answer the calls waiting, give the GIL back while there
    /// are none.
    fn work(&self) {
        let mut alive = Alive(Some(self));
        let first = {
            let mut state = self.lock();
            state.starting -= 1;
            state.jobs.pop_front().map(|(_, job)| job)
        };
        let Some(first) = first else { return };
        if super::FINALIZING.load(Ordering::Relaxed) {
            return;
        }
        // An interpreter shutting down gives no GIL: the call is dropped (its caller is told).
        let _ = Python::try_attach(|py| {
            let mut job = first;
            loop {
                // A panic is the call's failure (its caller is told it did not complete), not
                // the thread's.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(py)));
                job = match self.next(false, &mut alive) {
                    Some(j) => j,
                    None => match py.detach(|| self.next(true, &mut alive)) {
                        Some(j) if !super::FINALIZING.load(Ordering::Relaxed) => j,
                        _ => return,
                    },
                };
            }
        });
    }
}

/// A pool thread, counted in [`State::threads`] until it ends (however it ends) or is counted
/// out early by [`Pool::next`].
struct Alive<'a>(Option<&'a Pool>);

impl Alive<'_> {
    fn count_out(&mut self, state: &mut State) {
        if self.0.take().is_some() {
            state.threads -= 1;
        }
    }
}

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            pool.lock().threads -= 1;
        }
    }
}
