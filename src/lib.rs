//! kubescale: scale Kubernetes workloads. The pure-Rust core is in [`core`]; the PyO3 bindings
//! (feature `python`, on for the wheel) are in `python` and make up `kubescale._native`.

pub mod core;
#[cfg(feature = "python")]
mod python;

/// The native module's allocator: mimalloc (as pydantic-core's), for the many small objects a
/// pass allocates and frees.
#[cfg(feature = "python")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `gil_used = true`: on a free-threaded CPython (3.14t) importing the module turns the GIL back
/// on. The binding and the Python-scaler threads were written for a GIL; they are declared
/// free-threading-safe only once they are checked for it (see CHANGELOG.md).
#[cfg(feature = "python")]
#[pyo3::pymodule(gil_used = true)]
fn _native(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
    python::register(m)
}
