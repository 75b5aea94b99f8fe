//! Blocking calls: a core future run on the runtime while the caller waits with the GIL
//! released.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::core::Result;
use crate::python::runtime::runtime;

/// How often a blocking call looks up from its work to check for Ctrl-C.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Called on Ctrl-C of a blocking call, to ask its operation to finish its way out.
pub type Stop = Box<dyn FnOnce() + Send>;

/// How long a stopped operation may take to finish its way out (release a Lease) after Ctrl-C.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// An operation's value, made a Python object once the caller holds the GIL again.
type Delivery = Box<dyn for<'py> FnOnce(Python<'py>) -> PyResult<Py<PyAny>> + Send>;

/// An operation whose value is a [`Delivery`]: one type for every operation, so the waiting
/// below is compiled once, not once per result type.
type Operation = Pin<Box<dyn Future<Output = Result<Delivery>> + Send>>;

/// Runs `fut` on the runtime and waits for it with the GIL released. Works from any thread,
/// also where an asyncio loop is running (Jupyter). On Python's main thread, Ctrl-C cancels the
/// operation; with a `stop`, it first calls it and gives the operation up to 5 s to finish its
/// way out (the loop releasing its Lease), then raises the KeyboardInterrupt. Other threads,
/// to which Python delivers no signal, wait for the result without waking up.
///
/// The future runs on a worker of the runtime, not on the calling thread: driving it there with
/// `block_on` costs more CPU per call (see benches/PROFILE.md).
pub fn run_sync<T, F>(py: Python<'_>, fut: F, stop: Option<Stop>) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    let operation: Operation = Box::pin(async move {
        let value = fut.await?;
        Ok(Box::new(move |py: Python<'_>| value.into_py_any(py)) as Delivery)
    });
    wait(py, operation, stop)
}

/// Runs `operation` on the runtime and waits for its value with the GIL released (see
/// [`run_sync`]).
fn wait(py: Python<'_>, operation: Operation, stop: Option<Stop>) -> PyResult<Py<PyAny>> {
    let mut stop = stop;
    let (tx, rx) = mpsc::sync_channel(1);
    let task = runtime().spawn(async move {
        let _ = tx.send(operation.await);
    });
    let mut rx = rx;
    // Off the main thread `check_signals` finds nothing: the wait is not broken up, so a call
    // from a pool of threads takes the GIL back once, not once per `SIGNAL_CHECK`.
    let check = on_main_thread(py);
    loop {
        let (received, back) = py.detach(move || {
            let received = if check {
                rx.recv_timeout(SIGNAL_CHECK)
            } else {
                rx.recv().map_err(|mpsc::RecvError| mpsc::RecvTimeoutError::Disconnected)
            };
            (received, rx)
        });
        rx = back;
        match received {
            Ok(result) => return result?(py),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    if let Some(stop) = stop.take() {
                        stop();
                        py.detach(move || drop(rx.recv_timeout(STOP_GRACE)));
                    }
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

/// Whether the caller is Python's main thread, the only one on which Python runs signal
/// handlers (`threading.main_thread()`, which a forked child's forking thread becomes). When
/// that cannot be told, true: the caller then checks for signals as the main thread does.
fn on_main_thread(py: Python<'_>) -> bool {
    static MAIN_THREAD: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static CURRENT_THREAD: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let main = MAIN_THREAD.import(py, "threading", "main_thread").and_then(|f| f.call0());
    let current = CURRENT_THREAD.import(py, "threading", "current_thread").and_then(|f| f.call0());
    match (main, current) {
        (Ok(main), Ok(current)) => main.is(&current),
        _ => true,
    }
}
