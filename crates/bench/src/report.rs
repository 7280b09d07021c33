//! The results as a Markdown page and SVG charts.

use std::fmt::Write as _;

use crate::markdown::Table;
use crate::record::{Mode, Record, Status, Suite};
use crate::svg::{BarChart, LineChart, Series, format_bytes, format_us};

/// Where and how the numbers were made.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    pub title: String,
    pub command: String,
    pub machine: String,
    pub date: String,
}

/// One rendered chart.
#[derive(Clone, Debug)]
pub struct Chart {
    /// File name (`interaction.svg`).
    pub file: String,
    pub title: String,
    pub svg: String,
}

/// The modes present in `records`, in their canonical order.
fn modes(records: &[Record]) -> Vec<Mode> {
    Mode::ALL
        .into_iter()
        .filter(|m| records.iter().any(|r| r.mode == *m))
        .collect()
}

/// Rows of a suite: (case, clients) in the order first seen.
fn rows(records: &[Record], suite: Suite) -> Vec<(String, usize)> {
    let mut rows: Vec<(String, usize)> = Vec::new();
    for r in records.iter().filter(|r| r.suite == suite) {
        let key = (r.case.clone(), r.clients);
        if !rows.contains(&key) {
            rows.push(key);
        }
    }
    rows
}

fn find<'a>(
    records: &'a [Record],
    suite: Suite,
    (case, clients): &(String, usize),
    mode: Mode,
) -> Option<&'a Record> {
    records
        .iter()
        .find(|r| r.suite == suite && &r.case == case && r.clients == *clients && r.mode == mode)
}

fn latency_cell(record: Option<&Record>) -> String {
    match record {
        None => String::new(),
        Some(r) => match (r.status, r.median_us, r.p90_us) {
            (Status::Ok, Some(m), Some(p)) => format!("{} ({})", format_us(m), format_us(p)),
            (Status::Skipped, ..) => "skipped".into(),
            _ => "failed".into(),
        },
    }
}

fn median(record: Option<&Record>) -> Option<f64> {
    record
        .filter(|r| r.status == Status::Ok)
        .and_then(|r| r.median_us)
}

fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> String {
    match (numerator, denominator) {
        (Some(n), Some(d)) if d > 0.0 => {
            let x = n / d;
            if x >= 100.0 {
                format!("{x:.0}x")
            } else {
                format!("{x:.1}x")
            }
        }
        _ => "–".into(),
    }
}

/// A latency table for one suite, with the baselines' slowdown against faastlane.
fn latency_table(records: &[Record], suite: Suite, first: &str) -> Table {
    let modes = modes(records);
    let mut headers: Vec<String> = vec![first.into()];
    if suite == Suite::Apps {
        headers.push("clients".into());
    }
    headers.extend(modes.iter().map(|m| m.name().to_string()));
    let baselines: Vec<Mode> = modes.iter().copied().filter(|m| m.is_baseline()).collect();
    headers.extend(
        baselines
            .iter()
            .map(|m| format!("{} ÷ faastlane", m.name())),
    );
    let mut table = Table::new(headers);
    for key in rows(records, suite) {
        let mut cells = vec![key.0.clone()];
        if suite == Suite::Apps {
            cells.push(key.1.to_string());
        }
        cells.extend(
            modes
                .iter()
                .map(|m| latency_cell(find(records, suite, &key, *m))),
        );
        let faastlane = median(find(records, suite, &key, Mode::Faastlane));
        cells.extend(
            baselines
                .iter()
                .map(|m| ratio(median(find(records, suite, &key, *m)), faastlane)),
        );
        table.row(cells);
    }
    table
}

fn throughput_table(records: &[Record]) -> Table {
    let modes = modes(records);
    let mut headers: Vec<String> = vec!["app".into(), "clients".into()];
    headers.extend(modes.iter().map(|m| m.name().to_string()));
    let mut table = Table::new(headers);
    for key in rows(records, Suite::Apps) {
        let mut cells = vec![key.0.clone(), key.1.to_string()];
        cells.extend(modes.iter().map(|m| {
            find(records, Suite::Apps, &key, *m)
                .filter(|r| r.status == Status::Ok)
                .and_then(|r| r.throughput_per_s)
                .map_or_else(String::new, |t| {
                    if t >= 100.0 {
                        format!("{t:.0}")
                    } else {
                        format!("{t:.2}")
                    }
                })
        }));
        table.row(cells);
    }
    table
}

fn memory_table(records: &[Record]) -> Table {
    let modes = modes(records);
    let mut headers: Vec<String> = vec!["suite".into(), "case".into()];
    headers.extend(modes.iter().map(|m| m.name().to_string()));
    let mut table = Table::new(headers);
    for suite in Suite::ALL {
        for key in rows(records, suite) {
            let mut cells = vec![suite.name().to_string(), with_clients(&key)];
            cells.extend(modes.iter().map(|m| {
                find(records, suite, &key, *m)
                    .filter(|r| r.status == Status::Ok)
                    .and_then(|r| r.peak_rss_kb)
                    .map_or_else(String::new, |kb| {
                        #[expect(clippy::cast_precision_loss, reason = "KiB counts of memory")]
                        let mb = kb as f64 / 1024.0;
                        format!("{mb:.0} MB")
                    })
            }));
            table.row(cells);
        }
    }
    table
}

fn with_clients((case, clients): &(String, usize)) -> String {
    if *clients > 1 {
        format!("{case}, {clients} clients")
    } else {
        case.clone()
    }
}

/// The Markdown page: tables per suite, memory, the charts and every note.
pub fn markdown(meta: &Meta, records: &[Record], charts: &[Chart]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", meta.title);
    let _ = writeln!(out, "- Command: `{}`", meta.command);
    let _ = writeln!(out, "- Machine: {}", meta.machine);
    let _ = writeln!(out, "- Date: {}\n", meta.date);
    out.push_str(
        "Cells are `median (p90)` over the runs of this one invocation; the `÷ faastlane` columns \
         divide a baseline's median by faastlane's, both from this run. faastlane: every function \
         a call in one process; baseline-warm: a long-lived process per function, state through \
         Redis; baseline-cold: a new process per invocation, state through Redis. Same ASL engine \
         for all.\n\n",
    );
    let sections = [
        (
            Suite::Interaction,
            "Function interaction latency",
            "state size",
            "From the moment one function returns to the moment the next one starts with its input \
             (measured inside the functions with `CLOCK_MONOTONIC`).",
        ),
        (
            Suite::Fanout,
            "Fan-out overhead",
            "state",
            "A Parallel (or Map) state of N branches that each call a function returning a constant: \
             the end-to-end time is what the fan-out costs.",
        ),
        (
            Suite::Apps,
            "Example applications, end to end",
            "app",
            "From `execute` to the output as JSON, the first run's output checked against \
             `expected.json`.",
        ),
    ];
    for (suite, title, first, explanation) in sections {
        if !records.iter().any(|r| r.suite == suite) {
            continue;
        }
        let runs: Vec<usize> = records
            .iter()
            .filter(|r| r.suite == suite && r.status == Status::Ok)
            .map(|r| r.runs)
            .collect();
        let (lo, hi) = (
            runs.iter().min().copied().unwrap_or(0),
            runs.iter().max().copied().unwrap_or(0),
        );
        let _ = writeln!(
            out,
            "## {title}\n\n{explanation} Runs per cell: {lo}–{hi}.\n"
        );
        out.push_str(&latency_table(records, suite, first).render());
        out.push('\n');
        if suite == Suite::Apps {
            out.push_str("### Throughput (executions per second)\n\n");
            out.push_str(&throughput_table(records).render());
            out.push('\n');
        }
    }
    out.push_str(
        "## Peak memory\n\nResident memory at its peak, summed over the mode's processes: the \
         process running the engine (and, for faastlane, the embedded Python with the functions), \
         plus for faastlane-process the fork server, its spare and its workers by proportional \
         set size (pages they share copy-on-write split between them; read every 20 ms), \
         for the baselines every worker process and the Redis server, and with concurrent \
         clients of faastlane every instance.\n\n",
    );
    out.push_str(&memory_table(records).render());
    out.push('\n');
    if !charts.is_empty() {
        out.push_str("## Charts\n\n");
        for chart in charts {
            let _ = writeln!(out, "![{}]({})\n", chart.title, chart.file);
        }
    }
    let notes: Vec<&Record> = records.iter().filter(|r| !r.note.is_empty()).collect();
    if !notes.is_empty() {
        out.push_str("## Notes\n\n");
        let mut seen: Vec<String> = Vec::new();
        for r in notes {
            let line = if r.status == Status::Skipped {
                format!("- {}: {}", r.mode.name(), r.note)
            } else {
                format!(
                    "- {} / {} / {}: {}",
                    r.suite.name(),
                    with_clients(&(r.case.clone(), r.clients)),
                    r.mode.name(),
                    r.note
                )
            };
            if !seen.contains(&line) {
                let _ = writeln!(out, "{line}");
                seen.push(line);
            }
        }
    }
    out
}

/// The charts: interaction latency by state size, fan-out by branches, apps by mode.
pub fn charts(records: &[Record]) -> Vec<Chart> {
    let ok = |r: &&Record| r.status == Status::Ok && r.median_us.is_some();
    let mut charts = Vec::new();

    #[expect(clippy::cast_precision_loss, reason = "byte and branch counts")]
    let interaction: Vec<Series> = modes(records)
        .into_iter()
        .map(|mode| Series {
            name: mode.name().into(),
            points: records
                .iter()
                .filter(ok)
                .filter(|r| r.suite == Suite::Interaction && r.mode == mode)
                .filter_map(|r| Some((r.payload_bytes? as f64, r.median_us?)))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    if !interaction.is_empty() {
        let title = "Function interaction latency vs state size (median)".to_string();
        charts.push(Chart {
            file: "interaction.svg".into(),
            svg: LineChart {
                title: title.clone(),
                x_label: "state handed from one function to the next".into(),
                y_label: "interaction latency".into(),
                series: interaction,
                x_ticks: format_bytes,
            }
            .render(),
            title,
        });
    }

    let mut fanout = Vec::new();
    for mode in modes(records) {
        for kind in ["parallel", "map"] {
            #[expect(clippy::cast_precision_loss, reason = "branch counts")]
            let points: Vec<(f64, f64)> = records
                .iter()
                .filter(ok)
                .filter(|r| r.suite == Suite::Fanout && r.mode == mode && r.case.starts_with(kind))
                .filter_map(|r| Some((r.branches? as f64, r.median_us?)))
                .collect();
            if !points.is_empty() {
                fanout.push(Series {
                    name: format!("{} {kind}", mode.name()),
                    points,
                });
            }
        }
    }
    if !fanout.is_empty() {
        let title = "Fan-out: Parallel/Map of N trivial branches, end to end (median)".to_string();
        charts.push(Chart {
            file: "fanout.svg".into(),
            svg: LineChart {
                title: title.clone(),
                x_label: "branches".into(),
                y_label: "end-to-end time".into(),
                series: fanout,
                x_ticks: |x| format!("{x:.0}"),
            }
            .render(),
            title,
        });
    }

    let apps: Vec<String> = rows(records, Suite::Apps)
        .into_iter()
        .filter(|(_, clients)| *clients == 1)
        .map(|(case, _)| case)
        .collect();
    if !apps.is_empty() {
        let series = modes(records)
            .into_iter()
            .map(|mode| {
                let values = apps
                    .iter()
                    .map(|app| median(find(records, Suite::Apps, &(app.clone(), 1), mode)))
                    .collect();
                (mode.name().to_string(), values)
            })
            // A mode with no numbers (skipped) gets no legend entry, so that every chart
            // gives a mode the same colour.
            .filter(|(_, values): &(String, Vec<Option<f64>>)| values.iter().any(Option::is_some))
            .collect();
        let title = "Example applications: end-to-end time per mode (median)".to_string();
        charts.push(Chart {
            file: "apps.svg".into(),
            svg: BarChart {
                title: title.clone(),
                y_label: "end-to-end time".into(),
                groups: apps,
                series,
            }
            .render(),
            title,
        });
    }
    charts
}

/// The 1-minute load average (`/proc/loadavg`), as text; `?` when unknown.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// CPU model, CPUs, memory and kernel, from `/proc`.
pub fn machine_description() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_string();
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mem_kb = crate::memory::status_kb_from(&read("/proc/meminfo"), "MemTotal").unwrap_or(0);
    #[expect(clippy::cast_precision_loss, reason = "memory sizes")]
    let mem_gib = mem_kb as f64 / (1024.0 * 1024.0);
    let kernel = read("/proc/sys/kernel/osrelease");
    format!(
        "{model}, {cpus} vCPUs, {mem_gib:.0} GiB, Linux {}",
        kernel.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(suite: Suite, case: &str, mode: Mode, median: f64) -> Record {
        let mut r = Record::new(suite, case, mode);
        r.runs = 5;
        r.median_us = Some(median);
        r.p90_us = Some(median * 1.5);
        r.peak_rss_kb = Some(20 * 1024);
        r
    }

    fn sample() -> Vec<Record> {
        let mut records = vec![
            record(Suite::Interaction, "1 MB", Mode::Faastlane, 2.0),
            Record::new(Suite::Interaction, "1 MB", Mode::FaastlaneProcess)
                .skipped("skipped: process lanes not available"),
            record(Suite::Interaction, "1 MB", Mode::BaselineWarm, 4000.0),
            record(Suite::Apps, "finra-100", Mode::Faastlane, 30_000.0),
            record(Suite::Apps, "finra-100", Mode::BaselineCold, 3_000_000.0),
        ];
        records[0].payload_bytes = Some(1 << 20);
        records[2].payload_bytes = Some(1 << 20);
        records[3].throughput_per_s = Some(33.3);
        records
    }

    #[test]
    fn tables_show_medians_p90s_and_ratios() {
        let records = sample();
        let meta = Meta {
            title: "faastlane benchmarks".into(),
            command: "faastlane bench --suite all --quick".into(),
            machine: "test machine".into(),
            date: "today".into(),
        };
        let charts = charts(&records);
        let page = markdown(&meta, &records, &charts);
        assert!(
            page.contains("`faastlane bench --suite all --quick`"),
            "{page}"
        );
        assert!(page.contains(
            "| state size | faastlane | faastlane-process | baseline-warm | baseline-cold | baseline-warm ÷ faastlane | baseline-cold ÷ faastlane |"
        ), "{page}");
        assert!(
            page.contains(
                "| 1 MB | 2.0 µs (3.0 µs) | skipped | 4.00 ms (6.00 ms) |  | 2000x | – |"
            ),
            "{page}"
        );
        assert!(
            page.contains("| finra-100 | 1 | 30.0 ms (45.0 ms) |"),
            "{page}"
        );
        assert!(page.contains("| 100x |"), "{page}");
        assert!(page.contains("| finra-100 | 1 | 33.30 |"), "{page}");
        assert!(page.contains("| interaction | 1 MB | 20 MB |"), "{page}");
        assert!(page.contains("- faastlane-process: skipped: process lanes not available"));
        assert!(page.contains("![Function interaction latency"));
    }

    #[test]
    fn charts_carry_the_series() {
        let charts = charts(&sample());
        let files: Vec<&str> = charts.iter().map(|c| c.file.as_str()).collect();
        assert_eq!(files, ["interaction.svg", "apps.svg"]);
        assert!(charts[0].svg.contains(r#"data-name="baseline-warm""#));
        assert!(!charts[0].svg.contains(r#"data-name="faastlane-process""#));
        assert!(charts[1].svg.contains(r#"data-name="baseline-cold""#));
        assert!(
            !charts[1].svg.contains("faastlane-process"),
            "skipped modes have no legend"
        );
    }
}
