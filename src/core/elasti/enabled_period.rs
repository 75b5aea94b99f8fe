//! The enabled period of an ElastiService: a 5-field cron schedule (UTC) and a duration.
//! Scale-to-zero is allowed only inside a period; outside it the target is kept up.

use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::{Timestamp, Zoned, tz::TimeZone};

use crate::core::error::{Error, Result};

/// The reference's defaults: every day at midnight UTC, for 24 hours (always enabled).
pub const DEFAULT_SCHEDULE: &str = "0 0 * * *";
/// Default duration of an enabled period.
pub const DEFAULT_DURATION: &str = "24h";

/// A parsed enabled period.
#[derive(Debug, Clone)]
pub struct EnabledPeriod {
    schedule: Cron,
    duration: Duration,
}

fn invalid(field: &'static str, problem: String) -> Error {
    Error::InvalidValue { field, problem }
}

impl EnabledPeriod {
    /// Parses a 5-field cron schedule (minute hour day-of-month month day-of-week, UTC) and a
    /// duration. An empty (or blank) field takes its default, as in the reference, where a Helm
    /// chart renders an unset value as `""`.
    pub fn parse(schedule: &str, duration: &str) -> Result<Self> {
        let schedule = if schedule.trim().is_empty() { DEFAULT_SCHEDULE } else { schedule };
        let duration = if duration.trim().is_empty() { DEFAULT_DURATION } else { duration };
        let fields = schedule.split_whitespace().count();
        if fields != 5 {
            return Err(invalid(
                "enabledPeriod.schedule",
                format!("{schedule:?} has {fields} fields; use 5: minute hour day-of-month month day-of-week"),
            ));
        }
        let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
        let cron = parser
            .parse(schedule)
            .map_err(|e| invalid("enabledPeriod.schedule", format!("{schedule:?} is not a cron schedule: {e}")))?;
        Ok(EnabledPeriod {
            schedule: cron,
            duration: crate::core::duration::parse("enabledPeriod.duration", duration)?,
        })
    }

    /// The reference's default period (always enabled), parsed once.
    pub fn default_period() -> Self {
        static DEFAULT: std::sync::LazyLock<EnabledPeriod> = std::sync::LazyLock::new(|| {
            EnabledPeriod::parse(DEFAULT_SCHEDULE, DEFAULT_DURATION).expect("the default period parses")
        });
        DEFAULT.clone()
    }

    /// [`parse`](Self::parse), remembering the periods that parse (up to a few hundred): a pass
    /// asks it for every service, and services mostly share a handful of schedules.
    pub fn parse_cached(schedule: &str, duration: &str) -> Result<Self> {
        type Parsed = std::collections::HashMap<(String, String), EnabledPeriod>;
        static CACHE: std::sync::LazyLock<std::sync::Mutex<Parsed>> = std::sync::LazyLock::new(Default::default);
        let key = (schedule.to_string(), duration.to_string());
        if let Some(hit) = CACHE.lock().expect("period cache poisoned").get(&key) {
            return Ok(hit.clone());
        }
        let parsed = Self::parse(schedule, duration)?;
        let mut cache = CACHE.lock().expect("period cache poisoned");
        if cache.len() >= 512 {
            cache.clear();
        }
        cache.insert(key, parsed.clone());
        Ok(parsed)
    }

    /// True when `now` lies within `duration` after the last schedule time at or before `now`.
    pub fn is_enabled(&self, now: Timestamp) -> bool {
        let now_utc = now.to_zoned(TimeZone::UTC);
        match self.schedule.find_previous_occurrence(&now_utc, true) {
            Ok(start) => {
                let start: Zoned = start;
                let elapsed = now.duration_since(start.timestamp());
                !elapsed.is_negative() && elapsed.unsigned_abs() < self.duration
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn enabled(schedule: &str, duration: &str, now: &str) -> bool {
        EnabledPeriod::parse(schedule, duration).unwrap().is_enabled(at(now))
    }

    #[test]
    fn daily_midnight() {
        assert!(enabled("0 0 * * *", "24h", "2026-11-28T15:00:00Z"));
        assert!(enabled("0 0 * * *", "24h", "2026-11-28T00:00:00Z"));
        assert!(enabled("0 0 * * *", "24h", "2026-11-28T23:59:59Z"));
        assert!(enabled("0 0 * * *", "1h", "2026-11-28T00:30:00Z"));
        assert!(!enabled("0 0 * * *", "1h", "2026-11-28T01:00:00Z"));
        assert!(!enabled("0 0 * * *", "1h", "2026-11-28T15:00:00Z"));
    }

    #[test]
    fn weekdays_nine_to_five() {
        // 2026-11-23 is a Monday; 2026-11-28 a Saturday.
        assert!(enabled("0 9 * * 1-5", "8h", "2026-11-23T14:00:00Z"));
        assert!(!enabled("0 9 * * 1-5", "8h", "2026-11-23T18:00:00Z"));
        assert!(!enabled("0 9 * * 1-5", "8h", "2026-11-28T14:00:00Z"));
        assert!(!enabled("0 9 * * 1-5", "8h", "2026-11-23T08:59:00Z"));
    }

    #[test]
    fn every_quarter_hour_in_office_hours() {
        assert!(enabled("*/15 8-17 * * 1-5", "5m", "2026-11-23T08:17:00Z"));
        assert!(!enabled("*/15 8-17 * * 1-5", "5m", "2026-11-23T08:22:00Z"));
        assert!(!enabled("*/15 8-17 * * 1-5", "5m", "2026-11-23T18:10:00Z"));
        assert!(enabled("*/15 8-17 * * 1-5", "1h30m", "2026-11-23T18:10:00Z"));
    }

    #[test]
    fn a_week_long_window() {
        // Mondays at 00:00 for 168h: always enabled.
        for now in ["2026-11-23T00:00:00Z", "2026-11-26T12:00:00Z", "2026-11-29T23:59:00Z"] {
            assert!(enabled("0 0 * * 1", "168h", now), "{now}");
        }
        assert!(!enabled("0 0 * * 1", "167h", "2026-11-29T23:59:00Z"));
    }

    #[test]
    fn empty_fields_take_the_defaults() {
        // "0 0 * * *" for 24h: always enabled, as a Helm chart's unset values mean.
        for (schedule, duration) in [("", ""), ("  ", "24h"), ("0 0 * * *", "")] {
            assert!(enabled(schedule, duration, "2026-11-26T12:00:00Z"), "{schedule:?} {duration:?}");
        }
    }

    #[test]
    fn invalid_schedules() {
        for bad in ["* * *", "0 0 0 * * *", "0 25 * * *", "61 * * * *", "a b c d e"] {
            let err = EnabledPeriod::parse(bad, "1h").unwrap_err();
            assert!(err.to_string().contains("enabledPeriod.schedule"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn invalid_durations() {
        for bad in ["-1h", "0h", "abc", "1x"] {
            let err = EnabledPeriod::parse("0 0 * * *", bad).unwrap_err();
            assert!(err.to_string().contains("enabledPeriod.duration"), "{bad:?}: {err}");
        }
    }
}
