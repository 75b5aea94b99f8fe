//! A replay in words for people: the summary's rows, the transitions' rows, and numbers and
//! times as a notebook shows them.

use std::time::Duration;

use jiff::Timestamp;

use crate::core::elasti::replay::result::{Replay, Summary};

/// Transitions listed in a table; the rest are counted in a last row.
pub const MAX_ROWS: usize = 50;

/// A duration as `1h05m`, `2m30s` or `45s` (whole seconds).
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s % 3600 / 60, s % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// `v` with `digits` significant digits, as Python's `format(v, "g")` writes it: no trailing
/// zeros, an exponent below 1e-4 and from 10^digits (`1.5e+06`).
pub fn general(v: f64, digits: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    let digits = digits.max(1);
    let scientific = format!("{:.*e}", digits - 1, v);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= digits as i64 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exponent.abs())
    } else {
        trim_zeros(&format!("{:.*}", (digits as i64 - 1 - exponent) as usize, v))
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s.to_string() }
}

/// A time in UTC with `format` (strftime), as the tables and the plot show it.
pub fn utc(t: Timestamp, format: &str) -> String {
    t.strftime(format).to_string()
}

impl Summary {
    /// The summary as rows of a table: what, and its value in words.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        vec![
            ("time at zero", format!("{} ({:.0}%)", span(self.time_at_zero), 100.0 * self.fraction_at_zero)),
            ("replica-hours saved", format!("{:.1} (against {})", self.replica_hours_saved, self.baseline_replicas)),
            ("scale-downs", self.scale_downs.to_string()),
            ("scale-ups", self.scale_ups.to_string()),
            ("cold starts", self.cold_starts.to_string()),
            ("cold-start wait", format!("{} in all, {} at worst", span(self.cold_start_wait), span(self.worst_wait))),
            ("longest at zero", span(self.longest_at_zero)),
            ("steps", self.steps.to_string()),
        ]
    }
}

/// The overrides a replay tried, in one line (`cooldown=300`), or `as stored`.
pub fn overrides_label(overrides: &[(String, String)]) -> String {
    let parts: Vec<String> = overrides.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if parts.is_empty() { "as stored".into() } else { parts.join(", ") }
}

impl Replay {
    /// The transitions as rows (time, `2 → 0`, reason), at most [`MAX_ROWS`], then a row that
    /// counts the rest.
    pub fn transition_rows(&self) -> Vec<[String; 3]> {
        let moves: Vec<_> = self.steps.iter().filter(|s| s.moved()).collect();
        let mut rows: Vec<[String; 3]> = moves
            .iter()
            .take(MAX_ROWS)
            .map(|s| {
                let change = format!("{} → {}", s.replicas_before, s.replicas);
                [utc(s.time, "%Y-%m-%d %H:%M:%S"), change, s.reason.clone()]
            })
            .collect();
        if moves.len() > MAX_ROWS {
            let more = format!("… and {} more", moves.len() - MAX_ROWS);
            rows.push([more, String::new(), "(to_pandas() or transitions() has them all)".into()]);
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_hours_minutes_or_seconds() {
        for (secs, text) in [(0, "0s"), (45, "45s"), (150, "2m30s"), (3600, "1h00m"), (3900 + 59, "1h05m")] {
            assert_eq!(span(Duration::from_secs(secs)), text);
        }
    }

    #[test]
    fn general_writes_numbers_as_pythons_g() {
        let cases = [
            (0.0, 3, "0"),
            (0.3, 3, "0.3"),
            (0.8999999999999999, 3, "0.9"),
            (1.2, 3, "1.2"),
            (1234.0, 3, "1.23e+03"),
            (999.7, 3, "1e+03"),
            (0.00001234, 3, "1.23e-05"),
            (0.5, 6, "0.5"),
            (250.0, 6, "250"),
            (-2.5, 3, "-2.5"),
        ];
        for (v, digits, text) in cases {
            assert_eq!(general(v, digits), text, "{v} with {digits} digits");
        }
    }

    #[test]
    fn a_label_names_the_overrides_tried() {
        assert_eq!(overrides_label(&[]), "as stored");
        let given = [("cooldown".to_string(), "300".to_string()), ("threshold".into(), "0.5".into())];
        assert_eq!(overrides_label(&given), "cooldown=300, threshold=0.5");
    }

    #[test]
    fn the_transitions_are_listed_up_to_a_limit_and_the_rest_counted() {
        let r = Replay::example(&[2, 0, 0, 2], &[Some(1.0), Some(0.1), None, Some(0.9)], 60);
        let rows = r.transition_rows();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][1], "2 → 0");
        assert_eq!(rows[1][0], "2023-11-14 22:16:20");
        let flapping: Vec<i32> = (0..120).map(|i| 2 * (i % 2)).collect();
        let rows = Replay::example(&flapping, &vec![Some(1.0); 120], 60).transition_rows();
        assert_eq!(rows.len(), MAX_ROWS + 1);
        assert_eq!(rows[MAX_ROWS][0], "… and 69 more");
    }

    #[test]
    fn summary_rows_read_as_a_table() {
        let r = Replay::example(&[2, 2, 0, 0, 0, 2, 2], &[Some(1.0); 7], 60);
        let rows = r.summary.rows();
        assert_eq!(rows[0], ("time at zero", "3m00s (43%)".to_string()));
        assert_eq!(rows[1], ("replica-hours saved", "0.1 (against 2)".to_string()));
    }
}
