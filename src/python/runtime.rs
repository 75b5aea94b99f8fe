//! The process's one tokio runtime. It knows nothing of Python's ways of waiting: blocking
//! calls are in `blocking.rs`, awaitables in `asyncio_bridge.rs`.

use crate::core::per_process::PerProcess;

/// The process's one tokio runtime.
///
/// One worker thread unless `TOKIO_WORKER_THREADS` says otherwise: the work is I/O-bound, and
/// with one worker the hand-offs inside a request (kube's `Buffer` task, hyper's connection
/// task) stay on one thread instead of waking another, which costs less client CPU per call
/// (benches/PROFILE.md). Python scalers and other blocking work run on their own threads
/// (`scaler_threads.rs`, the blocking pool), never on the worker.
///
/// Per process: a child forked after kubescale was used builds its own (see
/// `core::per_process`).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: PerProcess<tokio::runtime::Runtime> = PerProcess::new();
    RUNTIME.get(|| {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
            builder.worker_threads(1);
        }
        builder.thread_name("kubescale-worker").enable_all().build().expect("kubescale: cannot start the tokio runtime")
    })
}
