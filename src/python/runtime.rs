//! Running core futures on the one tokio runtime: blocking (GIL released) or as awaitables.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;

use crate::core::Result;

/// The process's one tokio runtime.
///
/// One worker thread unless `TOKIO_WORKER_THREADS` says otherwise: the work is I/O-bound, and
/// with one worker the hand-offs inside a request (kube's `Buffer` task, hyper's connection
/// task) stay on one thread instead of waking another. Measured: 0.43 against 0.56 ms of
/// client CPU per sequential scale with two workers (benches/PROFILE.md). Python scalers and
/// other blocking work run on the blocking pool, never on the worker.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
            builder.worker_threads(1);
        }
        builder.thread_name("kubescale-worker").enable_all().build().expect("kubescale: cannot start the tokio runtime")
    })
}

/// How often a blocking call looks up from its work to check for Ctrl-C.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Runs `fut` on the runtime and waits for it with the GIL released. Works from any thread,
/// also where an asyncio loop is running (Jupyter); Ctrl-C cancels the operation.
///
/// (Driving the future on the calling thread with `block_on` was measured: it costs more CPU
/// per call than handing it to a worker, 0.78 against 0.54 ms per scale.)
pub fn run_sync<T, F>(py: Python<'_>, fut: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    let task = runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    let mut rx = rx;
    loop {
        let (received, back) = py.detach(move || (rx.recv_timeout(SIGNAL_CHECK), rx));
        rx = back;
        match received {
            Ok(result) => return result?.into_py_any(py),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    task.abort();
                    return Err(e);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "kubescale: the operation's task ended without a result",
                ));
            }
        }
    }
}

/// Awaitables whose Rust side has not finished yet.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Whether any awaitable was ever made (only then is there anything to wait for at exit).
static ASYNC_USED: AtomicBool = AtomicBool::new(false);

/// Counts an awaitable as in flight until its Rust future completes or is dropped.
struct InFlight;

impl InFlight {
    fn new() -> Self {
        ASYNC_USED.store(true, Ordering::Relaxed);
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Wraps `fut` in an asyncio awaitable; cancelling the awaitable cancels the operation.
pub fn run_async<T, F>(py: Python<'_>, fut: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    let guard = InFlight::new();
    crate::python::asyncio_bridge::awaitable(py, async move {
        let out = fut.await;
        drop(guard);
        out
    })
}

/// At interpreter exit: gives awaitables still in flight up to 2 s to finish, so that work they
/// hand to Python on other threads (a scaler call of `run()`) does not take the GIL during
/// finalization, where such a thread is killed. Results themselves never take the GIL on the
/// runtime's threads (see `asyncio_bridge`).
pub fn drain_before_exit(py: Python<'_>) {
    if !ASYNC_USED.load(Ordering::Relaxed) {
        return;
    }
    py.detach(|| {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while IN_FLIGHT.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
}
