//! What a trigger said over a range of time, for a replay: the range as steps ([`StepRange`])
//! and one trigger's answer at one step ([`Sample`]).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::core::elasti::decision::Answer;
use crate::core::error::{Error, Result};

/// The most steps one replay covers (a week at one step a minute is 10,080).
pub const MAX_STEPS: usize = 100_000;

/// Evenly spaced times: `start`, `start + step`, ... up to `end` included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepRange {
    /// The first step.
    pub start: Timestamp,
    /// The time between steps (at least a second).
    pub step: Duration,
    /// How many steps.
    pub count: usize,
}

impl StepRange {
    /// The steps from `start` (aligned down to a multiple of `step` since the epoch, as
    /// Prometheus dashboards align, so that every trigger is sampled at the same round times)
    /// to `end`.
    ///
    /// Raises [`Error::InvalidValue`] for a step under a second or not in whole seconds, an
    /// `end` not after `start`, or more than [`MAX_STEPS`] steps.
    pub fn new(start: Timestamp, end: Timestamp, step: Duration) -> Result<Self> {
        let invalid = |field, problem: String| Err(Error::InvalidValue { field, problem });
        if step < Duration::from_secs(1) || step.subsec_nanos() != 0 {
            return invalid("step", format!("{step:?} must be whole seconds, at least 1s"));
        }
        if end <= start {
            return invalid("end", format!("{end} is not after start {start}"));
        }
        let secs = step.as_secs() as i64;
        let aligned = Timestamp::from_second(start.as_second().div_euclid(secs) * secs)
            .map_err(|e| Error::InvalidValue { field: "start", problem: e.to_string() })?;
        let span = end.as_second() - aligned.as_second();
        let count = usize::try_from(span / secs + 1).unwrap_or(usize::MAX);
        if count > MAX_STEPS {
            return invalid(
                "step",
                format!("{count} steps from {start} to {end}; at most {MAX_STEPS}: take a longer step"),
            );
        }
        Ok(StepRange { start: aligned, step, count })
    }

    /// The time of step `i`.
    pub fn time(&self, i: usize) -> Timestamp {
        let offset = SignedDuration::from_secs(self.step.as_secs() as i64 * i as i64);
        self.start.checked_add(offset).unwrap_or(self.start)
    }

    /// The last step's time.
    pub fn end(&self) -> Timestamp {
        self.time(self.count.saturating_sub(1))
    }

    /// The step a sample taken at `t` (seconds since the epoch) belongs to: the nearest one,
    /// `None` outside the range.
    pub fn index_of(&self, t: f64) -> Option<usize> {
        let offset = (t - self.start.as_second() as f64) / self.step.as_secs_f64();
        let i = offset.round();
        (i >= 0.0 && (i as usize) < self.count).then_some(i as usize)
    }
}

/// One trigger's answer at one step of a replay, as the live trigger would have answered.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sample {
    /// The answer (a missing sample or an error is [`Answer::Unhealthy`], which holds the
    /// count as the live trigger's error would).
    pub answer: Answer,
    /// The value the trigger compared, where it has one (Prometheus: the query's value).
    pub value: Option<f64>,
    /// Why the answer is unhealthy when the data says nothing else (`no sample`, an error).
    pub note: Option<String>,
}

impl Sample {
    /// An unhealthy step, and why.
    pub fn unhealthy(note: impl Into<String>) -> Self {
        Sample { answer: Answer::Unhealthy, value: None, note: Some(note.into()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn steps_are_aligned_and_include_the_end() {
        let r =
            StepRange::new(at("2026-12-01T10:00:30Z"), at("2026-12-01T10:05:00Z"), Duration::from_secs(60)).unwrap();
        assert_eq!(r.start, at("2026-12-01T10:00:00Z"));
        assert_eq!(r.count, 6);
        assert_eq!(r.end(), at("2026-12-01T10:05:00Z"));
        assert_eq!(r.index_of(at("2026-12-01T10:01:20Z").as_second() as f64), Some(1));
        assert_eq!(r.index_of(at("2026-12-01T10:01:31Z").as_second() as f64), Some(2));
        assert_eq!(r.index_of(at("2026-12-01T09:00:00Z").as_second() as f64), None);
    }

    #[test]
    fn bad_ranges_are_named() {
        let t = at("2026-12-01T10:00:00Z");
        let e = StepRange::new(t, t, Duration::from_secs(60)).unwrap_err();
        assert!(e.to_string().contains("end"), "{e}");
        let e = StepRange::new(t, at("2026-12-02T10:00:00Z"), Duration::from_millis(500)).unwrap_err();
        assert!(e.to_string().contains("step"), "{e}");
        let e = StepRange::new(t, at("2027-12-02T10:00:00Z"), Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains("at most"), "{e}");
    }
}
