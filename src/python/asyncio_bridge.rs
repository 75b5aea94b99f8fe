//! Rust futures as asyncio awaitables.
//!
//! Each call returns an `asyncio.Future` of the caller's running loop and spawns the Rust future
//! on the runtime. A finished future does not take the GIL: its result waits in the loop's
//! queue, and the first result of a batch wakes the loop by writing one byte to a socket the
//! loop watches (`add_reader`). The loop then sets every queued result in one callback. So the
//! runtime's worker never waits for the GIL, and a burst of results costs one wake-up.

use std::cell::RefCell;
use std::future::Future;
#[cfg(unix)]
use std::io::{Read, Write};
#[cfg(unix)]
use std::os::fd::AsRawFd;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::python::runtime::runtime;

/// Turns a finished future's output into its Python result (run on the loop's thread).
type Deliver = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// One finished operation whose asyncio future still has to be resolved.
struct Finished {
    future: Py<PyAny>,
    deliver: Deliver,
}

/// How a loop is woken when results are waiting.
enum Wake {
    /// A socket pair: the runtime writes, the loop watches the other end with `add_reader`
    /// (Unix: a Unix socket pair).
    #[cfg(unix)]
    Socket { reader: UnixStream, writer: UnixStream },
    /// For loops without `add_reader` (Windows' proactor loop) and platforms without Unix
    /// sockets: `call_soon_threadsafe` from a blocking thread.
    CallSoon,
}

/// The results waiting for one event loop.
struct LoopQueue {
    event_loop: Py<PyAny>,
    finished: Mutex<Vec<Finished>>,
    /// Set while a wake-up is on its way; cleared by the loop before it takes the queue.
    scheduled: AtomicBool,
    wake: Wake,
}

impl LoopQueue {
    /// Makes the queue for `event_loop`: woken through a socket the loop watches where it can
    /// watch one, else through `call_soon_threadsafe`.
    fn attach(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Self>> {
        #[cfg(unix)]
        if let Some(queue) = Self::attach_socket(event_loop)? {
            return Ok(queue);
        }
        Ok(Arc::new(LoopQueue {
            event_loop: event_loop.clone().unbind(),
            finished: Mutex::new(Vec::new()),
            scheduled: AtomicBool::new(false),
            wake: Wake::CallSoon,
        }))
    }

    /// A queue woken through a socket pair whose reader is registered with the loop; `None`
    /// when the loop cannot watch it.
    #[cfg(unix)]
    fn attach_socket(event_loop: &Bound<'_, PyAny>) -> PyResult<Option<Arc<Self>>> {
        let py = event_loop.py();
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let fd = reader.as_raw_fd();
        let queue = Arc::new(LoopQueue {
            event_loop: event_loop.clone().unbind(),
            finished: Mutex::new(Vec::new()),
            scheduled: AtomicBool::new(false),
            wake: Wake::Socket { reader, writer },
        });
        let drain = Py::new(py, Drain { queue: queue.clone() })?;
        match event_loop.call_method1(pyo3::intern!(py, "add_reader"), (fd, drain)) {
            Ok(_) => Ok(Some(queue)),
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyNotImplementedError>(py) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether its loop is closed (then its selector, and our reader with it, are gone).
    fn loop_closed(&self, py: Python<'_>) -> bool {
        self.event_loop.bind(py).call_method0("is_closed").and_then(|c| c.is_truthy()).unwrap_or(true)
    }

    /// Queues a result (any thread, no GIL) and wakes the loop if no wake-up is pending.
    fn push(self: &Arc<Self>, done: Finished) {
        self.finished.lock().expect("asyncio queue poisoned").push(done);
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        match &self.wake {
            // A full socket buffer means the loop already has a wake-up to read.
            #[cfg(unix)]
            Wake::Socket { writer, .. } => drop((&*writer).write(&[1])),
            Wake::CallSoon => {
                let queue = self.clone();
                runtime().spawn_blocking(move || {
                    Python::attach(|py| {
                        let drain = Py::new(py, Drain { queue: queue.clone() })?;
                        queue.event_loop.bind(py).call_method1("call_soon_threadsafe", (drain,)).map(drop)
                    })
                    // A closed loop takes no callbacks; its futures are gone with it.
                    .ok();
                });
            }
        }
    }
}

/// The loop's reader callback: resolves every queued future.
#[pyclass(frozen)]
struct Drain {
    queue: Arc<LoopQueue>,
}

#[pymethods]
impl Drain {
    fn __call__(&self, py: Python<'_>) {
        #[cfg(unix)]
        if let Wake::Socket { reader, .. } = &self.queue.wake {
            let mut buf = [0u8; 64];
            while matches!((&*reader).read(&mut buf), Ok(n) if n == buf.len()) {}
        }
        self.queue.scheduled.store(false, Ordering::Release);
        let batch = std::mem::take(&mut *self.queue.finished.lock().expect("asyncio queue poisoned"));
        for done in batch {
            let future = done.future.bind(py);
            // A cancelled awaitable keeps its cancellation.
            if future.call_method0(pyo3::intern!(py, "done")).and_then(|d| d.is_truthy()).unwrap_or(true) {
                continue;
            }
            let _ = match (done.deliver)(py) {
                Ok(value) => future.call_method1(pyo3::intern!(py, "set_result"), (value,)),
                Err(err) => future.call_method1(pyo3::intern!(py, "set_exception"), (err.into_value(py),)),
            };
        }
    }
}

/// Done-callback of an awaitable: cancelling it aborts the Rust task.
#[pyclass(frozen)]
struct AbortOnCancel {
    task: tokio::task::AbortHandle,
}

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0(pyo3::intern!(future.py(), "cancelled"))?.is_truthy()? {
            self.task.abort();
        }
        Ok(())
    }
}

thread_local! {
    /// The queues of the loops this thread has run calls on, the latest first. A thread runs
    /// one loop at a time but may come back to an earlier one whose operations are still in
    /// flight, so a queue stays registered until its loop is closed.
    static QUEUES: RefCell<Vec<Arc<LoopQueue>>> = const { RefCell::new(Vec::new()) };
}

/// `asyncio.get_running_loop()`; raises RuntimeError outside a running loop.
pub fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()
}

/// The queue of `event_loop`, made and registered on first use.
fn queue_for(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<LoopQueue>> {
    let py = event_loop.py();
    let is_ours = |q: &Arc<LoopQueue>| q.event_loop.bind(py).is(event_loop);
    let latest = QUEUES.with(|qs| qs.borrow().first().filter(|q| is_ours(q)).cloned());
    if let Some(q) = latest {
        return Ok(q);
    }
    // Another loop than last time: forget closed loops, then find or make this one's queue.
    let mut queues = QUEUES.with(|qs| std::mem::take(&mut *qs.borrow_mut()));
    queues.retain(|q| !q.loop_closed(py));
    let found = match queues.iter().position(is_ours) {
        Some(i) => Ok(queues.remove(i)),
        None => LoopQueue::attach(event_loop),
    };
    if let Ok(q) = &found {
        queues.insert(0, q.clone());
    }
    QUEUES.with(|qs| *qs.borrow_mut() = queues);
    found
}

/// Returns an asyncio future of the running loop that resolves to `fut`'s output; cancelling
/// it cancels `fut`.
/// Errors are converted on the loop's thread, like results: the runtime never takes the GIL.
pub fn awaitable<T, E, F>(py: Python<'_>, fut: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
    E: Into<PyErr> + Send + 'static,
{
    let event_loop = running_loop(py)?;
    let queue = queue_for(&event_loop)?;
    let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let target = future.clone().unbind();
    let task = runtime().spawn(async move {
        // A panic must still resolve the awaitable, or its caller would wait forever.
        let out = std::panic::AssertUnwindSafe(fut).catch_unwind().await;
        let deliver: Deliver = Box::new(move |py| match out {
            Ok(result) => result.map_err(Into::into)?.into_py_any(py),
            Err(panic) => Err(pyo3::panic::PanicException::new_err(panic_message(&*panic))),
        });
        queue.push(Finished { future: target, deliver });
    });
    future.call_method1(pyo3::intern!(py, "add_done_callback"), (AbortOnCancel { task: task.abort_handle() },))?;
    Ok(future.unbind())
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str));
    format!("kubescale: the operation panicked: {}", text.unwrap_or("(no message)"))
}

/// An already resolved awaitable (for `__aenter__` and `__aexit__`).
pub fn ready<T>(py: Python<'_>, value: T) -> PyResult<Py<PyAny>>
where
    T: for<'py> IntoPyObject<'py>,
{
    let future = running_loop(py)?.call_method0(pyo3::intern!(py, "create_future"))?;
    future.call_method1(pyo3::intern!(py, "set_result"), (value,))?;
    Ok(future.unbind())
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
    F: Future<Output = crate::core::Result<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    let guard = InFlight::new();
    awaitable(py, async move {
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
