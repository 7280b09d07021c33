//! Which cases the suite runs, and how often.
//!
//! `--quick` keeps every case but runs each fewer times (it must finish in under 5 minutes on
//! a 2-vCPU machine); the full suite adds the FINRA 5/50/200-branch variants and more runs.

use std::path::{Path, PathBuf};

use crate::case::{BaselineSetup, CaseSpec, Measure};
use crate::error::BenchError;
use crate::record::{Mode, Suite};
use crate::svg::format_bytes;
use crate::workloads::{self, App, Fanout};

/// State sizes of the interaction suite: 1 KB, 1 MB, 10 MB, 100 MB.
pub const PAYLOADS: [u64; 4] = [1 << 10, 1 << 20, 10 << 20, 100 << 20];

/// Branch counts of the fan-out suite.
pub const BRANCHES: [usize; 4] = [2, 10, 50, 100];

/// The example applications of the quick suite; the full one adds the other FINRA variants.
pub const APPS: [&str; 5] = [
    "finra",
    "finra-100",
    "ml-pipeline",
    "healthcare",
    "sentiment",
];
pub const MORE_APPS: [&str; 3] = ["finra-5", "finra-50", "finra-200"];

/// What to plan.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    pub suites: Vec<Suite>,
    pub modes: Vec<Mode>,
    pub quick: bool,
    /// The repository's `examples/`.
    pub examples: PathBuf,
    /// Where the synthetic workflows are written.
    pub scratch: PathBuf,
    /// The interpreter of the baseline's workers.
    pub python: PathBuf,
    /// Threads a Parallel/Map state may use, in every mode.
    pub threads: usize,
    /// Concurrent clients of the throughput cases.
    pub clients: usize,
}

/// The requirements environment of a workflow directory (empty without `requirements.txt`).
pub type Environments<'a> = dyn Fn(&Path) -> Result<Vec<PathBuf>, BenchError> + 'a;

/// Every case of the selected suites, in the order they run.
pub fn plan(
    options: &PlanOptions,
    environment: &Environments<'_>,
) -> Result<Vec<CaseSpec>, BenchError> {
    let mut cases = Vec::new();
    let base = |suite, case: String, mode, dir: &Path, input, site_packages| CaseSpec {
        suite,
        case,
        mode,
        workflow_dir: dir.to_path_buf(),
        input,
        expected: None,
        measure: Measure::EndToEnd,
        warmup: 2,
        runs: 10,
        clients: 1,
        payload_bytes: None,
        branches: None,
        threads: options.threads,
        baseline: BaselineSetup {
            python: options.python.clone(),
            site_packages,
        },
    };
    let scale = |quick: usize, full: usize| if options.quick { quick } else { full };

    if options.suites.contains(&Suite::Interaction) {
        let dir = options.scratch.join("interaction");
        workloads::write_interaction(&dir)?;
        let process_dir = options.scratch.join("interaction-process");
        workloads::write_interaction_process(&process_dir)?;
        for bytes in PAYLOADS {
            let runs = match bytes {
                b if b <= 1 << 20 => scale(20, 100),
                b if b <= 10 << 20 => scale(10, 30),
                _ => scale(5, 10),
            };
            for &mode in &options.modes {
                let mut case = base(
                    Suite::Interaction,
                    size_name(bytes),
                    mode,
                    if mode == Mode::FaastlaneProcess {
                        &process_dir
                    } else {
                        &dir
                    },
                    workloads::interaction_input(bytes),
                    Vec::new(),
                );
                case.measure = Measure::Interaction;
                case.payload_bytes = Some(bytes);
                case.runs = runs;
                case.warmup = if bytes > 10 << 20 { 1 } else { 2 };
                cases.push(case);
            }
        }
    }

    if options.suites.contains(&Suite::Fanout) {
        for kind in [Fanout::Parallel, Fanout::Map] {
            for branches in BRANCHES {
                let dir = options.scratch.join(format!("{}-{branches}", kind.name()));
                let input = workloads::write_fanout(&dir, kind, branches)?;
                for &mode in &options.modes {
                    let mut case = base(
                        Suite::Fanout,
                        format!("{} {branches}", kind.name()),
                        mode,
                        &dir,
                        input.clone(),
                        Vec::new(),
                    );
                    case.branches = Some(branches);
                    case.runs = match (mode, branches) {
                        (Mode::BaselineCold, b) if b >= 50 => scale(2, 5),
                        (Mode::BaselineCold, _) => scale(3, 10),
                        _ => scale(10, 50),
                    };
                    // A cold start needs no warm-up: every invocation starts a process.
                    case.warmup = if mode == Mode::BaselineCold { 0 } else { 2 };
                    cases.push(case);
                }
            }
        }
    }

    if options.suites.contains(&Suite::Apps) {
        let mut names: Vec<&str> = APPS.to_vec();
        if !options.quick {
            names.extend(MORE_APPS);
        }
        for name in names {
            let app = App::load(&options.examples, name)?;
            let site_packages = environment(&app.dir)?;
            let definition: serde_json::Value =
                std::fs::read_to_string(app.dir.join("workflow.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default();
            let branches = workloads::parallel_branches(&definition);
            for clients in [1, options.clients.max(2)] {
                for &mode in &options.modes {
                    // Cold starts under concurrent clients only measure how fast 2 vCPUs
                    // start processes; too slow for the quick suite.
                    if options.quick && clients > 1 && mode == Mode::BaselineCold {
                        continue;
                    }
                    let mut case = base(
                        Suite::Apps,
                        app.name.clone(),
                        mode,
                        &app.dir,
                        app.input.clone(),
                        site_packages.clone(),
                    );
                    case.expected = app.expected.clone();
                    case.branches = branches;
                    case.clients = clients;
                    let cold = mode == Mode::BaselineCold;
                    case.runs = match (clients, cold) {
                        (1, false) => scale(10, 30),
                        (1, true) => scale(3, 5),
                        (c, false) => c * scale(3, 10),
                        (c, true) => c,
                    };
                    case.warmup = if cold { 0 } else { 2 };
                    cases.push(case);
                }
            }
        }
    }
    Ok(cases)
}

/// `1 KB`, `100 MB`.
pub fn size_name(bytes: u64) -> String {
    #[expect(
        clippy::cast_precision_loss,
        reason = "payload sizes are far below 2^52"
    )]
    format_bytes(bytes as f64)
}

/// The site-packages of `dir`'s requirements environment, built (or found in the cache) the
/// way faastlane's Python runtime builds it. Starts the embedded interpreter in this process.
pub fn python_environment(dir: &Path) -> Result<Vec<PathBuf>, BenchError> {
    if !dir.join(python_runtime::venv::REQUIREMENTS).is_file() {
        return Ok(Vec::new());
    }
    python_runtime::init().map_err(|e| BenchError::Python(e.to_string()))?;
    let runtime = python_runtime::PythonRuntime::new(dir)
        .map_err(|e| BenchError::Python(format!("{}: {e}", dir.display())))?;
    Ok(runtime
        .environment()
        .map(|env| vec![env.site_packages.clone()])
        .unwrap_or_default())
}

/// The interpreter faastlane embeds, as a program the workers can run.
pub fn worker_python() -> Result<PathBuf, BenchError> {
    Ok(python_runtime::init()
        .map_err(|e| BenchError::Python(e.to_string()))?
        .executable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(quick: bool) -> PlanOptions {
        PlanOptions {
            suites: Suite::ALL.to_vec(),
            modes: Mode::ALL.to_vec(),
            quick,
            examples: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples"),
            scratch: PathBuf::new(),
            python: PathBuf::from("python3"),
            threads: 2,
            clients: 4,
        }
    }

    #[test]
    fn plans_every_mode_of_every_case() {
        let scratch = tempfile::tempdir().expect("temp dir");
        let mut options = options(true);
        options.scratch = scratch.path().to_path_buf();
        let cases = plan(&options, &|_| Ok(Vec::new())).expect("planned");
        let count = |suite| cases.iter().filter(|c| c.suite == suite).count();
        assert_eq!(count(Suite::Interaction), PAYLOADS.len() * 4);
        assert_eq!(count(Suite::Fanout), 2 * BRANCHES.len() * 4);
        // Quick: no cold baseline under concurrent clients.
        assert_eq!(count(Suite::Apps), APPS.len() * (4 + 3));
        let finra = cases
            .iter()
            .find(|c| c.case == "finra-100")
            .expect("finra-100 planned");
        assert_eq!(finra.branches, Some(100));
        assert!(finra.expected.is_some());

        options.quick = false;
        let full = plan(&options, &|_| Ok(Vec::new())).expect("planned");
        assert!(full.len() > cases.len());
        let runs = |cases: &[CaseSpec]| cases.iter().map(|c| c.runs).sum::<usize>();
        assert!(runs(&full) > runs(&cases));
    }
}
