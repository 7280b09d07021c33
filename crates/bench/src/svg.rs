//! SVG charts, written by hand: a log-log line chart and a grouped bar chart on a log axis.
//!
//! Small on purpose: two chart shapes, fixed layout, no fonts to embed (the viewer's
//! sans-serif), deterministic output that diffs well in the repository.

use std::fmt::Write as _;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

/// Colour per series, in order (colour-blind safe, Okabe-Ito).
const COLOURS: [&str; 6] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9",
];

/// One line of a line chart: `(x, y)` points, both positive.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A chart with logarithmic x and y axes.
#[derive(Clone, Debug)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Formats an x tick (ticks sit at the data's x values).
    pub x_ticks: fn(f64) -> String,
}

/// Bars per group, one bar per series, on a logarithmic y axis.
#[derive(Clone, Debug)]
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub groups: Vec<String>,
    /// Per series: its name and one value per group (`None`: no bar).
    pub series: Vec<(String, Vec<Option<f64>>)>,
}

/// The decades `[10^lo, 10^hi]` that cover `values` (all positive).
fn decades(values: impl Iterator<Item = f64>) -> Option<(i32, i32)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return None;
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "log10 of a finite f64 fits in i32"
    )]
    let (lo, mut hi) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    if hi <= lo {
        hi = lo + 1;
    }
    Some((lo, hi))
}

fn log_pos(v: f64, (lo, hi): (i32, i32), from: f64, to: f64) -> f64 {
    let t = (v.log10() - f64::from(lo)) / f64::from(hi - lo);
    from + t * (to - from)
}

/// Text safe inside an SVG element or attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// A time in microseconds as `12 µs`, `3.4 ms`, `1.2 s`.
pub fn format_us(us: f64) -> String {
    if us < 10.0 {
        format!("{us:.1} µs")
    } else if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 10_000.0 {
        format!("{:.2} ms", us / 1e3)
    } else if us < 1_000_000.0 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// A byte count as `1 KB`, `10 MB` (powers of 1024, as the suite's sizes are).
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn time_tick(exp: i32) -> String {
    format_us(10f64.powi(exp))
}

fn header(out: &mut String, title: &str) {
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="24" font-size="15" font-weight="bold" text-anchor="middle">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        escape(title)
    );
}

/// The y axis: a log scale in time, gridlines per decade, and its label.
fn y_axis(out: &mut String, range: (i32, i32), label: &str) {
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
    for exp in range.0..=range.1 {
        let y = log_pos(10f64.powi(exp), range, y0, y1);
        let _ = writeln!(
            out,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#dddddd"/>"##
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            x0 - 6.0,
            y + 4.0,
            escape(&time_tick(exp))
        );
    }
    let _ = writeln!(
        out,
        r#"<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="black"/>"#
    );
    let _ = writeln!(
        out,
        r#"<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="black"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (y0 + y1) / 2.0,
        escape(label)
    );
}

fn legend(out: &mut String, names: &[&str]) {
    let x = WIDTH - RIGHT + 16.0;
    for (i, name) in names.iter().enumerate() {
        #[expect(clippy::cast_precision_loss, reason = "a handful of series")]
        let y = TOP + 10.0 + 20.0 * i as f64;
        let colour = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            out,
            r#"<rect x="{x}" y="{:.1}" width="12" height="12" fill="{colour}"/>"#,
            y - 10.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{y:.1}">{}</text>"#,
            x + 18.0,
            escape(name)
        );
    }
}

impl LineChart {
    pub fn render(&self) -> String {
        let mut out = String::new();
        header(&mut out, &self.title);
        let all = || self.series.iter().flat_map(|s| s.points.iter());
        let (Some(xr), Some(yr)) = (decades(all().map(|p| p.0)), decades(all().map(|p| p.1)))
        else {
            out.push_str("<text x=\"40\" y=\"80\">no data</text>\n</svg>\n");
            return out;
        };
        y_axis(&mut out, yr, &self.y_label);
        let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
        // Ticks at the data's own x values (1 KB, 1 MB, ...; 2, 10, 50 branches).
        let mut ticks: Vec<f64> = all().map(|p| p.0).filter(|x| *x > 0.0).collect();
        ticks.sort_by(f64::total_cmp);
        ticks.dedup();
        for tick in ticks {
            let x = log_pos(tick, xr, x0, x1);
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{y1}" stroke="#eeeeee"/>"##
            );
            let _ = writeln!(
                out,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                y0 + 18.0,
                escape(&(self.x_ticks)(tick))
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            (x0 + x1) / 2.0,
            HEIGHT - 16.0,
            escape(&self.x_label)
        );
        for (i, series) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let points: Vec<String> = series
                .points
                .iter()
                .filter(|(x, y)| *x > 0.0 && *y > 0.0)
                .map(|&(x, y)| {
                    format!(
                        "{:.1},{:.1}",
                        log_pos(x, xr, x0, x1),
                        log_pos(y, yr, y0, y1)
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                r#"<g class="series" data-name="{}">"#,
                escape(&series.name)
            );
            let _ = writeln!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                points.join(" ")
            );
            for point in &points {
                if let Some((x, y)) = point.split_once(',') {
                    let _ = writeln!(
                        out,
                        r#"<circle cx="{x}" cy="{y}" r="3.5" fill="{colour}"/>"#
                    );
                }
            }
            out.push_str("</g>\n");
        }
        let names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        legend(&mut out, &names);
        out.push_str("</svg>\n");
        out
    }
}

impl BarChart {
    pub fn render(&self) -> String {
        let mut out = String::new();
        header(&mut out, &self.title);
        let values = self
            .series
            .iter()
            .flat_map(|(_, v)| v.iter().flatten().copied());
        let Some(yr) = decades(values) else {
            out.push_str("<text x=\"40\" y=\"80\">no data</text>\n</svg>\n");
            return out;
        };
        y_axis(&mut out, yr, &self.y_label);
        let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
        #[expect(clippy::cast_precision_loss, reason = "a handful of groups and series")]
        let (groups, per_group) = (
            self.groups.len().max(1) as f64,
            self.series.len().max(1) as f64,
        );
        let group_width = (x1 - x0) / groups;
        let bar_width = group_width * 0.8 / per_group;
        for (g, group) in self.groups.iter().enumerate() {
            #[expect(clippy::cast_precision_loss, reason = "a handful of groups")]
            let gx = x0 + group_width * g as f64;
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                gx + group_width / 2.0,
                y0 + 18.0,
                escape(group)
            );
        }
        for (s, (name, values)) in self.series.iter().enumerate() {
            let colour = COLOURS[s % COLOURS.len()];
            let _ = writeln!(out, r#"<g class="series" data-name="{}">"#, escape(name));
            for (g, value) in values.iter().enumerate() {
                let Some(v) = value.filter(|v| *v > 0.0) else {
                    continue;
                };
                #[expect(clippy::cast_precision_loss, reason = "a handful of bars")]
                let x = x0 + group_width * g as f64 + group_width * 0.1 + bar_width * s as f64;
                let top = log_pos(v, yr, y0, y1).min(y0);
                let _ = writeln!(
                    out,
                    r#"<rect x="{x:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{}: {}</title></rect>"#,
                    bar_width * 0.92,
                    y0 - top,
                    escape(name),
                    escape(&format_us(v))
                );
            }
            out.push_str("</g>\n");
        }
        let names: Vec<&str> = self.series.iter().map(|(n, _)| n.as_str()).collect();
        legend(&mut out, &names);
        out.push_str("</svg>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal XML well-formedness check: balanced tags, quoted attributes, escaped text.
    fn well_formed(svg: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let text = &rest[..start];
            if text.contains('>') {
                return Err(format!("stray '>' in text: {text}"));
            }
            let end = rest[start..].find('>').ok_or("unclosed tag")? + start;
            let tag = &rest[start + 1..end];
            if !tag.matches('"').count().is_multiple_of(2) {
                return Err(format!("unbalanced quotes in <{tag}>"));
            }
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
                if open != name {
                    return Err(format!("<{open}> closed by </{name}>"));
                }
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().ok_or("empty tag")?;
                stack.push(name.to_owned());
            }
            rest = &rest[end + 1..];
        }
        if stack.is_empty() {
            Ok(())
        } else {
            Err(format!("unclosed: {stack:?}"))
        }
    }

    #[test]
    fn line_chart_is_well_formed_and_has_every_series() {
        let chart = LineChart {
            title: "Interaction latency <by size> & mode".into(),
            x_label: "state size".into(),
            y_label: "median latency".into(),
            series: vec![
                Series {
                    name: "faastlane".into(),
                    points: vec![(1024.0, 1.5), (1048576.0, 1.7), (104857600.0, 2.0)],
                },
                Series {
                    name: "baseline-warm".into(),
                    points: vec![
                        (1024.0, 300.0),
                        (1048576.0, 4000.0),
                        (104857600.0, 400000.0),
                    ],
                },
            ],
            x_ticks: format_bytes,
        };
        let svg = chart.render();
        well_formed(&svg).expect("well-formed XML");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains(r#"data-name="faastlane""#));
        assert!(svg.contains(r#"data-name="baseline-warm""#));
        assert!(svg.contains("&lt;by size&gt; &amp; mode"));
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains(">1 KB<") && svg.contains(">100 MB<"), "{svg}");
    }

    #[test]
    fn bar_chart_is_well_formed_and_skips_missing_bars() {
        let chart = BarChart {
            title: "End to end".into(),
            y_label: "median".into(),
            groups: vec!["finra".into(), "ml-pipeline".into()],
            series: vec![
                ("faastlane".into(), vec![Some(12_000.0), Some(40_000.0)]),
                ("faastlane-process".into(), vec![None, None]),
                ("baseline-cold".into(), vec![Some(2_500_000.0), None]),
            ],
        };
        let svg = chart.render();
        well_formed(&svg).expect("well-formed XML");
        assert_eq!(
            svg.matches("<rect x=").count(),
            3 + 3,
            "3 bars + 3 legend keys"
        );
        assert!(svg.contains(r#"data-name="baseline-cold""#));
        assert!(svg.contains("2.50 s"));
    }

    #[test]
    fn empty_charts_say_so() {
        let chart = BarChart {
            title: "nothing".into(),
            y_label: "median".into(),
            groups: vec![],
            series: vec![],
        };
        let svg = chart.render();
        well_formed(&svg).expect("well-formed XML");
        assert!(svg.contains("no data"));
    }

    #[test]
    fn units() {
        assert_eq!(format_us(1.234), "1.2 µs");
        assert_eq!(format_us(345.0), "345 µs");
        assert_eq!(format_us(2_345.0), "2.35 ms");
        assert_eq!(format_us(123_456.0), "123.5 ms");
        assert_eq!(format_us(3_200_000.0), "3.20 s");
        assert_eq!(format_bytes(1024.0), "1 KB");
        assert_eq!(format_bytes(100.0 * 1024.0 * 1024.0), "100 MB");
        assert_eq!(format_bytes(1536.0), "1.5 KB");
    }
}
