//! Choosing a cooldown from the service's own history: the replay's steps simulated once per
//! candidate cooldown (the triggers' history is read once), each giving a point of the curve
//! (time at zero, replica-hours saved, cold starts a day, the longest wait), and the candidate
//! chosen by pure functions of the curve and the user's budget. Nothing is written.

use std::time::Duration;

use crate::core::elasti::replay::result::{Summary, optional_seconds, seconds};

/// The cooldowns tried when the caller gives none: 1, 2, 5, 10, 15 and 30 minutes, 1 and 2
/// hours.
pub const DEFAULT_CANDIDATES: [Duration; 8] = [
    Duration::from_secs(60),
    Duration::from_secs(120),
    Duration::from_secs(300),
    Duration::from_secs(600),
    Duration::from_secs(900),
    Duration::from_secs(1800),
    Duration::from_secs(3600),
    Duration::from_secs(7200),
];

/// One cooldown replayed over the history (durations serialised as seconds).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CooldownPoint {
    /// The cooldown tried.
    #[serde(serialize_with = "seconds")]
    pub cooldown: Duration,
    /// Time the target would have spent at zero.
    #[serde(serialize_with = "seconds")]
    pub time_at_zero: Duration,
    /// `time_at_zero` over the whole range.
    pub fraction_at_zero: f64,
    /// Replica-hours saved against running the baseline throughout.
    pub replica_hours_saved: f64,
    /// Steps where traffic found the target at zero.
    pub cold_starts: usize,
    /// `cold_starts` per day of the range.
    pub cold_starts_per_day: f64,
    /// The longest a request would have waited at a cold start: a polling interval for a
    /// pass to see the traffic, plus the wake-up; zero without cold starts.
    #[serde(serialize_with = "seconds")]
    pub worst_wait: Duration,
}

impl CooldownPoint {
    /// The point of `cooldown` from its replay's `summary` over `span`.
    pub fn of(cooldown: Duration, summary: &Summary, span: Duration) -> Self {
        let days = (span.as_secs_f64() / 86_400.0).max(1.0 / 1440.0);
        CooldownPoint {
            cooldown,
            time_at_zero: summary.time_at_zero,
            fraction_at_zero: summary.fraction_at_zero,
            replica_hours_saved: summary.replica_hours_saved,
            cold_starts: summary.cold_starts,
            cold_starts_per_day: summary.cold_starts as f64 / days,
            worst_wait: summary.worst_wait,
        }
    }
}

/// What the user will accept; `None` fields do not bound.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    /// The most cold starts a day.
    pub max_cold_starts_per_day: Option<f64>,
    /// The longest a request may wait at a cold start.
    pub max_wait: Option<Duration>,
}

impl Budget {
    /// Whether anything is bounded.
    pub fn is_given(&self) -> bool {
        self.max_cold_starts_per_day.is_some() || self.max_wait.is_some()
    }

    fn allows(&self, p: &CooldownPoint) -> bool {
        self.max_cold_starts_per_day.is_none_or(|m| p.cold_starts_per_day <= m)
            && self.max_wait.is_none_or(|m| p.worst_wait <= m)
    }
}

/// The recommendation: the cooldown (none when no candidate fits), why, the knee of the curve,
/// and the whole curve in the candidates' order (durations serialised as seconds).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Recommendation {
    /// The cooldown recommended.
    #[serde(serialize_with = "optional_seconds")]
    pub cooldown: Option<Duration>,
    /// Why, in words.
    pub reason: String,
    /// The knee of the curve (see [`knee`]).
    #[serde(serialize_with = "optional_seconds")]
    pub knee: Option<Duration>,
    /// Every candidate's point.
    pub points: Vec<CooldownPoint>,
}

fn minutes(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// The knee of the curve: the candidate that keeps the largest share of the most replica-hours
/// saved for the smallest share of the most cold starts (the largest difference of the two
/// shares; the first of equals). `None` when no candidate ever reaches zero.
pub fn knee(points: &[CooldownPoint]) -> Option<usize> {
    let most_saved = points.iter().map(|p| p.replica_hours_saved).fold(0.0, f64::max);
    if most_saved <= 0.0 {
        return None;
    }
    let most_cold = points.iter().map(|p| p.cold_starts_per_day).fold(0.0, f64::max);
    let score = |p: &CooldownPoint| {
        let cold = if most_cold > 0.0 { p.cold_starts_per_day / most_cold } else { 0.0 };
        p.replica_hours_saved / most_saved - cold
    };
    let mut best: Option<(usize, f64)> = None;
    for (i, p) in points.iter().enumerate() {
        let s = score(p);
        if best.is_none_or(|(_, b)| s > b + 1e-12) {
            best = Some((i, s));
        }
    }
    best.map(|(i, _)| i)
}

/// The recommendation over `points` (one per candidate, in any order): within a budget, the
/// candidate that saves the most replica-hours (then the one with fewer cold starts); with no
/// budget, the [`knee`].
pub fn recommend(points: Vec<CooldownPoint>, budget: &Budget) -> Recommendation {
    let knee_at = knee(&points);
    let knee_cooldown = knee_at.map(|i| points[i].cooldown);
    let (cooldown, reason) = if budget.is_given() {
        let best = points.iter().filter(|p| budget.allows(p)).max_by(|a, b| {
            a.replica_hours_saved
                .total_cmp(&b.replica_hours_saved)
                .then(b.cold_starts.cmp(&a.cold_starts))
                .then(b.cooldown.cmp(&a.cooldown))
        });
        match best {
            Some(p) => (
                Some(p.cooldown),
                format!(
                    "{} saves the most replica-hours within the budget: {:.1} saved, {:.1} cold starts a day",
                    minutes(p.cooldown),
                    p.replica_hours_saved,
                    p.cold_starts_per_day
                ),
            ),
            None => {
                let fewest = points.iter().min_by(|a, b| a.cold_starts_per_day.total_cmp(&b.cold_starts_per_day));
                let why = match fewest {
                    Some(p) => format!(
                        "no candidate keeps within the budget; the fewest cold starts a day is {:.1}, at {}",
                        p.cold_starts_per_day,
                        minutes(p.cooldown)
                    ),
                    None => "no candidate to try".into(),
                };
                (None, why)
            }
        }
    } else {
        match knee_at {
            Some(i) => {
                let p = &points[i];
                let most_saved = points.iter().map(|p| p.replica_hours_saved).fold(0.0, f64::max);
                let most_cold = points.iter().map(|p| p.cold_starts_per_day).fold(0.0, f64::max);
                (
                    Some(p.cooldown),
                    format!(
                        "no budget given: {} is the knee of the curve, keeping {:.0}% of the most replica-hours saved ({:.1} of {:.1}) with {:.1} of the most {:.1} cold starts a day",
                        minutes(p.cooldown),
                        100.0 * p.replica_hours_saved / most_saved,
                        p.replica_hours_saved,
                        most_saved,
                        p.cold_starts_per_day,
                        most_cold
                    ),
                )
            }
            None => (None, "the target would never have been at zero with any candidate: nothing to save".into()),
        }
    };
    Recommendation { cooldown, reason, knee: knee_cooldown, points }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(minutes: u64, saved: f64, cold_per_day: f64) -> CooldownPoint {
        CooldownPoint {
            cooldown: Duration::from_secs(minutes * 60),
            time_at_zero: Duration::ZERO,
            fraction_at_zero: 0.0,
            replica_hours_saved: saved,
            cold_starts: cold_per_day as usize,
            cold_starts_per_day: cold_per_day,
            worst_wait: if cold_per_day > 0.0 { Duration::from_secs(40) } else { Duration::ZERO },
        }
    }

    fn curve() -> Vec<CooldownPoint> {
        // Shorter cooldowns save more and cost more cold starts; the gain flattens after 10m.
        vec![
            point(1, 100.0, 40.0),
            point(5, 95.0, 12.0),
            point(10, 90.0, 4.0),
            point(30, 60.0, 2.0),
            point(60, 30.0, 1.0),
        ]
    }

    #[test]
    fn within_a_budget_the_most_saved_wins() {
        // (budget of cold starts a day, longest wait, the cooldown chosen in minutes)
        let table: [(Option<f64>, Option<u64>, Option<u64>); 6] = [
            (Some(50.0), None, Some(1)),
            (Some(12.0), None, Some(5)),
            (Some(5.0), None, Some(10)),
            (Some(1.0), None, Some(60)),
            (Some(0.5), None, None),
            // A wait shorter than a polling interval plus the wake-up allows no cold start.
            (None, Some(30), None),
        ];
        for (cold, wait, chosen) in table {
            let budget = Budget { max_cold_starts_per_day: cold, max_wait: wait.map(Duration::from_secs) };
            let r = recommend(curve(), &budget);
            assert_eq!(r.cooldown, chosen.map(|m| Duration::from_secs(m * 60)), "{budget:?}: {}", r.reason);
            assert_eq!(r.points.len(), 5);
        }
        let none = recommend(curve(), &Budget { max_cold_starts_per_day: Some(0.5), max_wait: None });
        assert!(none.reason.contains("fewest cold starts a day is 1.0, at 1h"), "{}", none.reason);
    }

    #[test]
    fn with_no_budget_the_knee_is_recommended_and_explained() {
        let r = recommend(curve(), &Budget::default());
        assert_eq!(r.cooldown, Some(Duration::from_secs(600)));
        assert_eq!(r.knee, Some(Duration::from_secs(600)));
        assert!(r.reason.contains("knee") && r.reason.contains("90%"), "{}", r.reason);
        // Never at zero with any candidate: nothing to recommend.
        let flat = vec![point(1, 0.0, 0.0), point(5, 0.0, 0.0)];
        assert_eq!(recommend(flat, &Budget::default()).cooldown, None);
        // No cold starts at all: the cooldown that saves the most.
        let free = vec![point(1, 10.0, 0.0), point(5, 8.0, 0.0)];
        assert_eq!(knee(&free), Some(0));
    }
}
