//! A line chart as an SVG image, for notebook views: two series over one categorical x axis,
//! each scaled to its own y axis.

fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// One series of [`curve_svg`]: its name, colour and a value per x label.
pub struct Series<'a> {
    /// The legend's text.
    pub name: &'a str,
    /// An SVG colour.
    pub colour: &'a str,
    /// One value per x label.
    pub values: Vec<f64>,
}

/// Two series over the same categorical x axis (`labels`, evenly spaced), each scaled to its
/// own axis (`left` on the left, `right` on the right), with a vertical line at each of
/// `marks` (`(label index, text)`).
pub fn curve_svg(
    (width, height): (u32, u32),
    labels: &[String],
    left: &Series<'_>,
    right: &Series<'_>,
    marks: &[(usize, &str)],
) -> String {
    let (w, h) = (f64::from(width), f64::from(height));
    let (x0, x1, y0, y1) = (50.0, w - 50.0, h - 30.0, 20.0);
    let n = labels.len().max(1);
    let x = |i: usize| if n == 1 { (x0 + x1) / 2.0 } else { x0 + (x1 - x0) * i as f64 / (n - 1) as f64 };
    let top = |s: &Series<'_>| s.values.iter().copied().filter(|v| v.is_finite()).fold(0.0_f64, f64::max).max(1e-9);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-size=\"11\">\
         <line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"#888\"/>"
    );
    for (i, label) in labels.iter().enumerate() {
        let xi = x(i);
        out +=
            &format!("<text x=\"{xi:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>", y0 + 15.0, escape_xml(label));
    }
    for &(i, text) in marks {
        let xi = x(i);
        out += &format!(
            "<line x1=\"{xi:.1}\" y1=\"{y1}\" x2=\"{xi:.1}\" y2=\"{y0}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{xi:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            y1 - 6.0,
            escape_xml(text)
        );
    }
    for (s, anchor, at) in [(left, "start", 4.0), (right, "end", w - 4.0)] {
        let peak = top(s);
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y0 - (y0 - y1) * v.max(0.0) / peak))
            .collect();
        out += &format!(
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>\
             <text x=\"{at}\" y=\"{:.1}\" fill=\"{c}\" text-anchor=\"{anchor}\">{} (max {peak:.1})</text>",
            points.join(" "),
            y1 + 10.0,
            escape_xml(s.name),
            c = s.colour,
        );
    }
    out + "</svg>"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curve_has_both_series_scaled_to_their_axes_and_the_marks() {
        let labels = ["1m", "5m", "1h"].map(String::from);
        let saved = Series { name: "saved", colour: "#1f77b4", values: vec![10.0, 5.0, 0.0] };
        let cold = Series { name: "cold <starts>", colour: "#ff7f0e", values: vec![20.0, 4.0, 1.0] };
        let svg = curve_svg((300, 120), &labels, &saved, &cold, &[(1, "recommended")]);
        // x from 50 to 250, y from 90 (zero) to 20 (each series' top).
        assert!(svg.contains("points=\"50.0,20.0 150.0,55.0 250.0,90.0\""), "{svg}");
        assert!(svg.contains("points=\"50.0,20.0 150.0,76.0 250.0,86.5\""), "{svg}");
        assert!(svg.contains("cold &lt;starts&gt; (max 20.0)") && svg.contains(">recommended<"), "{svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
