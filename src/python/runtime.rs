//! Running core futures on the one tokio runtime: blocking (GIL released) or as awaitables.

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;

use crate::core::Result;

/// The process's one tokio runtime (shared with pyo3-async-runtimes).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs `fut` on the runtime and waits for it with the GIL released. Works from any thread,
/// also where an asyncio loop is running (Jupyter); Ctrl-C cancels the operation.
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
        let (received, back) = py.detach(move || (rx.recv_timeout(Duration::from_millis(100)), rx));
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

/// Wraps `fut` in an asyncio awaitable; cancelling the awaitable cancels the operation.
pub fn run_async<T, F>(py: Python<'_>, fut: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(PyErr::from) }).map(Bound::unbind)
}
