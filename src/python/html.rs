//! The one HTML renderer of the value types' notebook tables (`_repr_html_`), also used by
//! `kubescale.Decisions` (through `_native.html_table`).

use pyo3::prelude::*;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// One object as a table of its fields, one row per field.
pub fn fields(caption: &str, rows: &[(&str, String)]) -> String {
    let body: String = rows
        .iter()
        .map(|(k, v)| format!("<tr><th style=\"text-align:left\">{}</th><td>{}</td></tr>", escape(k), escape(v)))
        .collect();
    format!("<table><caption>{}</caption>{body}</table>", escape(caption))
}

/// Renders rows of cells as an HTML table under a header row (every text escaped).
///
/// Args:
///     caption: The table's caption.
///     header: The column names.
///     rows: The rows, each a list of cells.
///
/// Returns:
///     str: ``<table>...</table>``.
#[pyfunction]
pub fn html_table(caption: &str, header: Vec<String>, rows: Vec<Vec<String>>) -> String {
    let head: String = header.iter().map(|h| format!("<th style=\"text-align:left\">{}</th>", escape(h))).collect();
    let body: String = rows
        .iter()
        .map(|r| format!("<tr>{}</tr>", r.iter().map(|c| format!("<td>{}</td>", escape(c))).collect::<String>()))
        .collect();
    format!("<table><caption>{}</caption><tr>{head}</tr>{body}</table>", escape(caption))
}
