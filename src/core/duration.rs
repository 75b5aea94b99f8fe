//! Durations as Kubernetes users write them (Go's `time.ParseDuration` spelling: `30s`, `5m`,
//! `1h30m`, `250ms`), read by one parser everywhere: `enabledPeriod.duration`,
//! `$POLLING_INTERVAL` and the command line's options (through `kubescale._native`).

use std::time::Duration;

use crate::core::error::{Error, Result};

fn invalid(field: &'static str, problem: String) -> Error {
    Error::InvalidValue { field, problem }
}

/// Parses a Go-style duration (`24h`, `1h30m`, `90s`): positive, not zero.
pub fn parse(field: &'static str, s: &str) -> Result<Duration> {
    let t = s.trim();
    if t.is_empty() {
        return Err(invalid(field, "the duration is empty; use e.g. \"8h\" or \"30m\"".into()));
    }
    if t.starts_with('-') {
        return Err(invalid(field, format!("{s:?} is negative; use a positive duration like \"8h\"")));
    }
    let d = humantime::parse_duration(t)
        .map_err(|e| invalid(field, format!("{s:?} is not a duration ({e}); use e.g. \"8h\", \"90m\" or \"1h30m\"")))?;
    if d.is_zero() {
        return Err(invalid(field, format!("{s:?} is zero; use a positive duration")));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_spellings() {
        assert_eq!(parse("d", "1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("d", "90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("d", "250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "-5s", "0s", "5 parsecs", "1x"] {
            assert!(parse("d", bad).is_err(), "{bad:?}");
        }
    }
}
