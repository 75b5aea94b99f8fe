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

/// Called on Ctrl-C of a blocking call, to ask its operation to finish its way out.
pub type Stop = Box<dyn FnOnce() + Send>;

/// How long a stopped operation may take to finish its way out (release a Lease) after Ctrl-C.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs `fut` on the runtime and waits for it with the GIL released. Works from any thread,
/// also where an asyncio loop is running (Jupyter). Ctrl-C cancels the operation; with a
/// `stop`, it first calls it and gives the operation up to 5 s to finish its way out (the loop
/// releasing its Lease), then raises the KeyboardInterrupt.
///
/// The future runs on a worker of the runtime, not on the calling thread: driving it there with
/// `block_on` costs more CPU per call (see benches/PROFILE.md).
pub fn run_sync<T, F>(py: Python<'_>, fut: F, stop: Option<Stop>) -> PyResult<Py<PyAny>>
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
