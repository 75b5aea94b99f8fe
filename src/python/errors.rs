//! The one place where core errors become Python exceptions (classes of `kubescale.errors`).

use pyo3::call::PyCallArgs;
use pyo3::prelude::*;

use crate::core::Error;

fn exception<'py>(py: Python<'py>, class: &str, args: impl PyCallArgs<'py>) -> PyErr {
    let made = py.import("kubescale.errors").and_then(|m| m.getattr(class)).and_then(|cls| cls.call1(args));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        Python::attach(|py| {
            let msg = e.to_string();
            match &e {
                Error::Config { .. } => exception(py, "ConfigError", (msg,)),
                Error::InvalidTarget { .. } => exception(py, "InvalidTargetError", (msg,)),
                Error::InvalidValue { .. } => exception(py, "InvalidValueError", (msg,)),
                Error::NoMatch(_) => exception(py, "NoMatchError", (msg,)),
                Error::NotScalable { .. } => exception(py, "NotScalableError", (msg,)),
                Error::NamespaceNotAllowed { .. } => exception(py, "NamespaceNotAllowedError", (msg,)),
                Error::Api { status, reason, message } => {
                    let class = match status {
                        404 => "NotFoundError",
                        409 => "ConflictError",
                        403 => "ForbiddenError",
                        401 => "UnauthorizedError",
                        400 | 422 => "InvalidError",
                        503 | 504 => "ApiUnavailableError",
                        _ => "ApiError",
                    };
                    exception(py, class, (message.clone(), *status, reason.clone()))
                }
                Error::Unavailable { .. } => exception(py, "ApiUnavailableError", (msg, 0u16, "Unavailable")),
                Error::Precondition { target, expected, actual } => {
                    exception(py, "PreconditionError", (msg, target.clone(), *expected, *actual))
                }
                Error::WaitTimeout { wanted, seen, .. } => exception(py, "WaitTimeoutError", (msg, *wanted, *seen)),
                Error::Closed | Error::Forked { .. } => exception(py, "HandlerClosedError", (msg,)),
                Error::Trigger { .. } => exception(py, "ScalerError", (msg,)),
                Error::LeaseLost(_) => exception(py, "LeaseLostError", (msg,)),
                Error::Decode { .. } => exception(py, "ApiError", (msg, 0u16, "Decode")),
            }
        })
    }
}
