//! kubescale: scale Kubernetes workloads. The pure-Rust core is in [`core`]; the PyO3 bindings
//! (feature `python`, on for the wheel) are in `python` and make up `kubescale._native`.

pub mod core;
#[cfg(feature = "python")]
mod python;

#[cfg(feature = "python")]
#[pyo3::pymodule]
fn _native(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
    python::register(m)
}
