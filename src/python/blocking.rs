//! Blocking calls: a core future run on the runtime while the caller waits with the GIL
//! released.

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;

use crate::core::Result;
use crate::python::runtime::runtime;

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
    run_sync_stopping(py, fut, None)
}

/// How long a stopped operation may take to finish its way out (release a Lease) after Ctrl-C.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// [`run_sync`], except that Ctrl-C first calls `stop` and gives the operation up to 5 s to
/// finish its way out (the loop releasing its Lease), before the KeyboardInterrupt is raised.
pub fn run_sync_stopping<T, F>(py: Python<'_>, fut: F, stop: Option<Box<dyn FnOnce() + Send>>) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    let mut stop = stop;
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
