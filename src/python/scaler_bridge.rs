//! Python scalers as core [`ScalerFactory`]s. A trigger's evaluation (factory, `is_healthy`,
//! `should_scale_to_zero`, `close`) is one call of `kubescale._scalers.ask` on a scaler
//! thread with the GIL, bounded by the trigger type's timeout; coroutines are run there too.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use pyo3::prelude::*;

use crate::core::Error;
use crate::core::{Answer, Sample, ScalerFactory, StepRange};
use crate::python::scaler_threads;

/// The event loop of the async handler call in progress, if any (shared by its scalers).
pub type LoopCell = Arc<Mutex<Option<Py<PyAny>>>>;

fn trigger_error(type_: &str, message: String) -> Error {
    Error::Trigger { trigger: type_.to_string(), message }
}

fn describe(py: Python<'_>, e: &PyErr) -> String {
    let name = e.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "Exception".into());
    format!("{name}: {}", e.value(py))
}

/// Grace beyond a timeout, so that the Python side's own timeout (for coroutines) fires first.
const GRACE: Duration = Duration::from_millis(200);

/// The triggers (type and metadata) whose last call is still running on a scaler thread.
pub type Busy = Arc<Mutex<HashSet<String>>>;

/// Marks a trigger busy until the blocking call that holds it returns (which, for a scaler that
/// never returns, is never: then that trigger is refused further calls instead of costing a
/// thread per pass).
struct BusyGuard {
    busy: Busy,
    key: String,
}

impl BusyGuard {
    fn take(busy: &Busy, key: &str) -> Option<Self> {
        let mut set = busy.lock().expect("busy set poisoned");
        set.insert(key.to_string()).then(|| BusyGuard { busy: busy.clone(), key: key.to_string() })
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.busy.lock().expect("busy set poisoned").remove(&self.key);
    }
}

/// Runs `f` with the GIL on a scaler thread (`scaler_threads`), at most `timeout` (plus a little grace). A
/// trigger (`key` in `busy`) whose previous call has not returned yet is refused without a new
/// thread.
async fn call_blocking<T, F>(
    type_: &str,
    what: &str,
    timeout: Duration,
    busy: &Busy,
    key: &str,
    f: F,
) -> crate::core::Result<T>
where
    F: FnOnce(Python<'_>) -> PyResult<T> + Send + 'static,
    T: Send + 'static,
{
    let Some(guard) = BusyGuard::take(busy, key) else {
        return Err(trigger_error(
            type_,
            format!("{what}: the previous call of this trigger has not returned yet; not calling it again"),
        ));
    };
    let call = scaler_threads::pool().call(timeout + GRACE, move |py| {
        let out = f(py).map_err(|e| describe(py, &e));
        drop(guard);
        out
    });
    match call.await {
        Some(Ok(v)) => Ok(v),
        Some(Err(message)) => Err(trigger_error(type_, format!("{what} raised {message}"))),
        None => Err(trigger_error(type_, format!("{what} took longer than {}s", timeout.as_secs_f64()))),
    }
}

/// A registered Python factory `factory(metadata: dict, cooldown: timedelta) -> Scaler`.
pub struct PyScalerFactory {
    type_: String,
    /// Shared so that a call can take it along without taking the GIL on a runtime worker.
    factory: Arc<Py<PyAny>>,
    timeout: Duration,
    loop_cell: LoopCell,
    /// Triggers of this type whose last call has not returned.
    busy: Busy,
}

impl PyScalerFactory {
    /// The factory of trigger type `type_`, each evaluation bounded by `timeout`; coroutines
    /// run on the loop in `loop_cell` (else on the background loop).
    pub fn new(type_: &str, factory: Py<PyAny>, timeout: Duration, loop_cell: LoopCell) -> Self {
        PyScalerFactory {
            type_: type_.to_string(),
            factory: Arc::new(factory),
            timeout,
            loop_cell,
            busy: Busy::default(),
        }
    }
}

impl ScalerFactory for PyScalerFactory {
    /// The whole evaluation in one blocking call with the GIL (`kubescale._scalers.ask`): one
    /// thread hop per trigger instead of four, bounded by the type's timeout as a whole.
    fn ask(
        &self,
        trigger: &str,
        metadata: serde_json::Value,
        cooldown: Duration,
    ) -> BoxFuture<'static, crate::core::Result<Answer>> {
        let factory = self.factory.clone();
        let (type_, timeout, loop_cell) = (self.type_.clone(), self.timeout, self.loop_cell.clone());
        let busy = self.busy.clone();
        let key = trigger.to_string();
        Box::pin(async move {
            let json = metadata.to_string();
            let secs = timeout.as_secs_f64();
            let said = call_blocking(&type_, "the scaler", timeout, &busy, &key, move |py| {
                let event_loop = loop_cell.lock().expect("loop cell poisoned").as_ref().map(|l| l.clone_ref(py));
                let helper = py.import("kubescale._scalers")?;
                let said =
                    helper.call_method1("ask", (factory.as_ref(), json, cooldown.as_secs(), event_loop, secs))?;
                said.extract::<(Option<crate::python::types::Answer>, String)>()
            })
            .await?;
            match said {
                (Some(answer), _) => Ok(answer.into()),
                // (None, "step() raised ExceptionType: message"): the step that failed, and why.
                (None, why) => Err(trigger_error(&type_, why)),
            }
        })
    }

    /// One window of a replay: `kubescale._scalers.history` (factory, `history(start, end,
    /// step)`, `close`) in one blocking call, bounded by the type's timeout.
    fn history(
        &self,
        trigger: &str,
        metadata: serde_json::Value,
        cooldown: Duration,
        range: StepRange,
    ) -> BoxFuture<'static, crate::core::Result<Vec<Sample>>> {
        let factory = self.factory.clone();
        let (type_, loop_cell) = (self.type_.clone(), self.loop_cell.clone());
        let timeout = self.timeout;
        let busy = self.busy.clone();
        let key = format!("{trigger}#history");
        Box::pin(async move {
            let json = metadata.to_string();
            let secs = timeout.as_secs_f64();
            let (start, step, count) = (range.start.as_second(), range.step.as_secs(), range.count);
            type Step = (Option<crate::python::types::Answer>, Option<f64>, Option<String>);
            let steps = call_blocking(&type_, "the scaler's history", timeout, &busy, &key, move |py| {
                let event_loop = loop_cell.lock().expect("loop cell poisoned").as_ref().map(|l| l.clone_ref(py));
                let helper = py.import("kubescale._scalers")?;
                let args = (factory.as_ref(), json, cooldown.as_secs(), start, step, count, event_loop, secs);
                helper.call_method1("history", args)?.extract::<Vec<Step>>()
            })
            .await?;
            Ok(steps
                .into_iter()
                .map(|(answer, value, note)| Sample {
                    answer: answer.map(Into::into).unwrap_or(Answer::Unhealthy),
                    value,
                    note,
                })
                .collect())
        })
    }
}
