//! The `remote` suite of `faastlane bench`: FINRA-200 (one Parallel of 200 audit branches)
//! as `POST /invoke/finra-200`, through Debian's nginx on loopback, against
//!
//! - one `faastlane serve` instance pinned to one CPU, without remote lanes (the baseline:
//!   every branch runs in the instance that took the request);
//! - N = 1, 2, 3 instances, each pinned to one CPU with `taskset` and each started with
//!   `--remote <the proxy's URL>`: the instance that takes the request keeps a share of the
//!   branches and sends the rest, in N - 1 requests (one for N = 1: it comes back to the same
//!   instance), through the proxy to its siblings.
//!
//! Two workloads: FINRA-200 as bundled (`"work": 1`, 8 accounts: branches of ~0.3 ms, where
//! a request to a sibling costs more than the branches it carries, and only the partitions
//! 1-8 of 40 hold trades) and a CPU-bound one (`"work": 400`, 40 accounts: every partition
//! holds trades, each rule's pass repeated 400 times, ~2.5 ms per branch: the case remote
//! lanes are for). The bundled workload's answers are checked against its `expected.json`;
//! the CPU-bound one's against the baseline configuration's first answer.
//!
//! With nginx's round robin and one execution at a time, the request lands on one instance
//! and its batches on the next ones, so with N >= 2 each sibling takes one batch. Every
//! answer is checked against `examples/finra-200/expected.json`. CPUs are assigned round
//! robin over the usable ones: on a 2-CPU machine the third instance shares a CPU with the
//! first, so N = 3 cannot be faster than N = 2 there.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::error::BenchError;
use crate::siblings::{SiblingOptions, Siblings, ensure_nginx};

/// What the suite runs with.
#[derive(Clone, Debug)]
pub struct RemoteBenchOptions {
    /// The `faastlane` binary.
    pub exe: PathBuf,
    /// The repository (for `scripts/ensure-nginx.sh`).
    pub repo: PathBuf,
    /// The examples directory (`finra-200` in it).
    pub examples: PathBuf,
    /// Fewer runs.
    pub quick: bool,
    /// The command line that ran the suite, for the report.
    pub command: String,
}

/// The two workloads' `work` and `accounts` (see the module's documentation); the first is
/// the bundled input.
const WORKLOADS: [(u64, u64); 2] = [(1, 8), (400, 40)];

/// One configuration's figures.
struct Figures {
    label: String,
    instances: usize,
    remote: bool,
    samples_ms: Vec<f64>,
}

impl Figures {
    fn median(&self) -> f64 {
        percentile(&self.samples_ms, 0.5)
    }
}

fn percentile(samples: &[f64], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the suite and returns its report (Markdown).
pub fn run(options: &RemoteBenchOptions) -> Result<String, BenchError> {
    let nginx = ensure_nginx(&options.repo)?;
    let workflow = options.examples.join("finra-200");
    let mut input: Json = read_json(&workflow.join("input.json"))?;
    let cpus = usable_cpus();
    let mut report_text = String::new();
    for (work, accounts) in WORKLOADS {
        input["work"] = Json::from(work);
        input["accounts"] = Json::from(accounts);
        let all = run_workload(options, &nginx, &workflow, &input.to_string(), work, &cpus)?;
        let runs = all.first().map_or(0, |f| f.samples_ms.len());
        report_text.push_str(&report(options, &all, &cpus, runs, (work, accounts)));
        report_text.push('\n');
    }
    Ok(report_text)
}

/// One workload (`work`) through every configuration.
fn run_workload(
    options: &RemoteBenchOptions,
    nginx: &Path,
    workflow: &Path,
    input: &str,
    work: u64,
    cpus: &[usize],
) -> Result<Vec<Figures>, BenchError> {
    // The bundled input's answer is known; another one's is the baseline's first answer.
    let mut expected: Option<Json> = if work == WORKLOADS[0].0 {
        Some(read_json(&workflow.join("expected.json"))?)
    } else {
        None
    };
    let (warmup, runs) = match (options.quick, work > 1) {
        (true, _) => (2, 5),
        (false, false) => (3, 15),
        (false, true) => (2, 9),
    };
    let configurations: [(usize, bool); 4] = [(1, false), (1, true), (2, true), (3, true)];
    let mut all = Vec::new();
    for (instances, remote) in configurations {
        let cap = instances.saturating_sub(1).max(1);
        let siblings = Siblings::start(
            &SiblingOptions {
                exe: options.exe.clone(),
                workflow: workflow.to_path_buf(),
                instances,
                cpus: (0..instances).map(|i| cpus[i % cpus.len()]).collect(),
                args: ["--workers", "1", "--lanes-workers", "1"]
                    .map(String::from)
                    .to_vec(),
                remote_to_proxy: remote.then_some(cap),
            },
            nginx,
        )?;
        let label = if remote {
            format!("{instances} instance(s), remote lanes (cap {cap})")
        } else {
            "1 instance, no remote lanes".to_string()
        };
        eprintln!("remote suite: work {work}, {label}");
        let url = format!("{}/invoke/finra-200", siblings.url);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .build()
            .new_agent();
        let mut samples_ms = Vec::with_capacity(runs);
        for run in 0..warmup + runs {
            let started = Instant::now();
            let output = invoke(&agent, &url, input)?;
            let took = started.elapsed();
            let expected = expected.get_or_insert_with(|| output.clone());
            if output != *expected {
                return Err(BenchError::WrongOutput {
                    expected: workflow.join("expected.json"),
                    detail: format!(
                        "{label}, run {run}: {} instead of {}",
                        snippet(&output),
                        snippet(expected)
                    ),
                });
            }
            if run >= warmup {
                samples_ms.push(took.as_secs_f64() * 1e3);
            }
        }
        all.push(Figures {
            label,
            instances,
            remote,
            samples_ms,
        });
        drop(siblings);
    }
    Ok(all)
}

fn invoke(agent: &ureq::Agent, url: &str, input: &str) -> Result<Json, BenchError> {
    let mut answer = agent
        .post(url)
        .header("content-type", "application/json")
        .send(input)
        .map_err(|e| BenchError::Execution(format!("POST {url}: {e}")))?;
    let status = answer.status().as_u16();
    let body = answer
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .map_err(|e| BenchError::Execution(format!("reading the answer of {url}: {e}")))?;
    let json: Json = serde_json::from_slice(&body)
        .map_err(|e| BenchError::Execution(format!("the answer of {url} is not JSON: {e}")))?;
    if status != 200 {
        return Err(BenchError::Execution(format!("HTTP {status}: {json}")));
    }
    Ok(json)
}

fn read_json(path: &Path) -> Result<Json, BenchError> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| BenchError::Workflow {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn snippet(json: &Json) -> String {
    json.to_string().chars().take(200).collect()
}

/// The CPUs this process may run on (`taskset` pins instances to them).
fn usable_cpus() -> Vec<usize> {
    let out = std::process::Command::new("taskset")
        .args(["-pc", &std::process::id().to_string()])
        .output();
    let list = out
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .and_then(|s| s.rsplit(':').next().map(|l| l.trim().to_string()))
        .unwrap_or_default();
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    cpus.extend(a..=b);
                }
            }
            None => cpus.extend(part.parse::<usize>().ok()),
        }
    }
    if cpus.is_empty() {
        cpus.push(0);
    }
    cpus
}

fn report(
    options: &RemoteBenchOptions,
    all: &[Figures],
    cpus: &[usize],
    runs: usize,
    (work, accounts): (u64, u64),
) -> String {
    let baseline = all
        .iter()
        .find(|f| !f.remote)
        .map_or(f64::NAN, Figures::median);
    let mut out = String::new();
    out.push_str(&format!(
        "# FINRA-200 through remote lanes, `\"work\": {work}, \"accounts\": {accounts}`\n\n"
    ));
    out.push_str(&format!(
        "`{}`: `POST /invoke/finra-200` (its input with `\"work\": {work}, \"accounts\": {accounts}`) through nginx (round robin, loopback) to `faastlane serve` instances, each pinned to one CPU with `taskset` (CPUs used round robin: {cpus:?}); {runs} timed runs per row after warm-up; every answer checked against {}.\n\n",
        options.command,
        if work == WORKLOADS[0].0 {
            "`examples/finra-200/expected.json`"
        } else {
            "the first answer of the configuration without remote lanes"
        }
    ));
    out.push_str(
        "| configuration | CPUs | median ms | p10 ms | p90 ms | speedup vs 1 instance |\n",
    );
    out.push_str("|---|---|---|---|---|---|\n");
    for f in all {
        let used: std::collections::BTreeSet<usize> =
            (0..f.instances).map(|i| cpus[i % cpus.len()]).collect();
        out.push_str(&format!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.2}x |\n",
            f.label,
            used.len(),
            f.median(),
            percentile(&f.samples_ms, 0.1),
            percentile(&f.samples_ms, 0.9),
            baseline / f.median()
        ));
    }
    if cpus.len() < 3 {
        out.push_str(&format!(
            "\nThis machine has {} usable CPU(s): with 3 instances two of them share a CPU, so the 3-instance row measures the cost of one more hop and of sharing a CPU, not a third CPU's worth of speedup.\n",
            cpus.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_from_the_sorted_samples() {
        let s = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&s, 0.5), 3.0);
        assert_eq!(percentile(&s, 0.0), 1.0);
        assert_eq!(percentile(&s, 1.0), 5.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
