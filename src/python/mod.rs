//! Thin PyO3 wrappers over the core: no HTTP here, only argument conversion and the error map.

mod args;
mod asyncio_bridge;
mod blocking;
mod errors;
mod fleet;
mod handler;
mod html;
mod recommend;
mod replay;
mod replay_result;
mod runtime;
mod scaler_bridge;
mod scaler_threads;
mod types;

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;

/// Set once the interpreter is shutting down (from an `atexit` hook): from then on the
/// runtime's threads must not take the GIL, so log records are dropped.
static FINALIZING: AtomicBool = AtomicBool::new(false);

/// Forwards `log` records (and `tracing` events, through tracing's `log` feature) to Python's
/// `logging`, until the interpreter starts shutting down.
struct LogBridge(pyo3_log::Logger);

impl log::Log for LogBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        !FINALIZING.load(Ordering::Relaxed) && self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !FINALIZING.load(Ordering::Relaxed) {
            self.0.log(record);
        }
    }

    fn flush(&self) {}
}

/// Installs the bridge from Rust `log`/`tracing` records to Python's `logging`.
fn install_logging(py: Python<'_>) -> PyResult<()> {
    use log::LevelFilter;
    let logger = pyo3_log::Logger::new(py, pyo3_log::Caching::LoggersAndLevels)?
        .filter(LevelFilter::Trace)
        .filter_target("hyper".into(), LevelFilter::Warn)
        .filter_target("hyper_util".into(), LevelFilter::Warn)
        .filter_target("rustls".into(), LevelFilter::Warn)
        .filter_target("tower".into(), LevelFilter::Warn)
        .filter_target("h2".into(), LevelFilter::Warn);
    let reset = logger.reset_handle();
    // A second import in the same process (e.g. a reload) keeps the first logger.
    if log::set_boxed_logger(Box::new(LogBridge(logger))).is_ok() {
        sync_log_level(py);
    }
    LOG_RESET.get_or_init(|| reset);
    Ok(())
}

/// Lets through only the records Python would keep: the global `log` level follows the most
/// verbose of the `kubescale` logger's and the root logger's effective levels, so records below
/// it cost one atomic load instead of a trip to Python. Read at import, when a handler is
/// created and by `reset_logging()`.
pub(crate) fn sync_log_level(py: Python<'_>) {
    use log::LevelFilter;
    let effective = |name: Option<&str>| -> Option<i64> {
        let logging = py.import("logging").ok()?;
        let logger = match name {
            Some(n) => logging.call_method1("getLogger", (n,)).ok()?,
            None => logging.call_method0("getLogger").ok()?,
        };
        logger.call_method0("getEffectiveLevel").ok()?.extract().ok()
    };
    let level = [effective(Some("kubescale")), effective(None)].into_iter().flatten().min().unwrap_or(0);
    let filter = match level {
        i64::MIN..=5 => LevelFilter::Trace,
        6..=10 => LevelFilter::Debug,
        11..=20 => LevelFilter::Info,
        21..=30 => LevelFilter::Warn,
        31..=40 => LevelFilter::Error,
        _ => LevelFilter::Off,
    };
    log::set_max_level(filter);
}

static LOG_RESET: std::sync::OnceLock<pyo3_log::ResetHandle> = std::sync::OnceLock::new();

/// Re-reads the Python logging levels, so changes made with ``logging`` after kubescale
/// first logged (or after the last handler was created) take effect.
#[pyfunction]
fn reset_logging(py: Python<'_>) {
    if let Some(r) = LOG_RESET.get() {
        r.reset();
    }
    sync_log_level(py);
}

/// Called at interpreter exit (``atexit``): lets pending asyncio results be delivered, then
/// stops the runtime's threads from calling into Python.
#[pyfunction]
fn _shutdown(py: Python<'_>) {
    asyncio_bridge::drain_before_exit(py);
    // Events still queued by handlers nobody closed.
    if crate::core::events_pending() {
        py.detach(|| runtime::runtime().block_on(crate::core::flush_all_events()));
    }
    FINALIZING.store(true, Ordering::SeqCst);
}

/// The ElastiService CustomResourceDefinition, as JSON (valid YAML), generated from the types
/// the loop reads.
#[pyfunction]
fn elastiservice_crd() -> String {
    serde_json::to_string_pretty(&crate::core::crd()).expect("the CRD serialises")
}

/// Parses a duration as Kubernetes users write them (Go's spelling), with the parser the core
/// uses for ``enabledPeriod`` and ``$POLLING_INTERVAL``.
///
/// Args:
///     text: e.g. ``"30s"``, ``"5m"``, ``"1h30m"``, ``"250ms"``.
///
/// Returns:
///     float: The duration in seconds (positive).
///
/// Raises:
///     InvalidValueError: Not a positive duration.
#[pyfunction]
fn parse_duration(text: &str) -> PyResult<f64> {
    Ok(crate::core::parse_duration("duration", text)?.as_secs_f64())
}

/// Registers `_shutdown` with `atexit`.
fn py_atexit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    py.import("atexit")?.call_method1("register", (m.getattr("_shutdown")?,))?;
    Ok(())
}

/// Registers the native module's contents.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    install_logging(m.py())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    handler::register(m)?;
    types::register(m)?;
    fleet::register(m)?;
    recommend::register(m)?;
    replay_result::register(m)?;
    m.add_function(wrap_pyfunction!(elastiservice_crd, m)?)?;
    m.add_function(wrap_pyfunction!(reset_logging, m)?)?;
    m.add_function(wrap_pyfunction!(parse_duration, m)?)?;
    m.add_function(wrap_pyfunction!(_shutdown, m)?)?;
    py_atexit(m)?;
    Ok(())
}
