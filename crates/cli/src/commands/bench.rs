//! `faastlane bench`: the benchmark suite against the container-per-function baseline.
//!
//! Plans the cases (`bench::suite`), runs each in a child process of this binary
//! (`faastlane bench --run-case SPEC`, `bench::runner`) so that its memory is its own, shows
//! a progress bar, and writes `OUT/NAME.json`, `OUT/NAME.md` and `OUT/NAME-*.svg`. This
//! module only maps the arguments and reports progress; the runner is the bench crate's.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bench::report::{self, Meta};
use bench::runner::{self, label, python_version, redis_version, run_child};
use bench::suite::{self, PlanOptions};
use bench::{Mode, Status, Suite};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{BenchArgs, BenchMode, BenchSuite};

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    if let Some(spec) = &args.run_case {
        return run_one(spec);
    }
    if let Some(spec) = &args.run_client {
        let report = bench::clients::run_client(spec)?;
        println!(
            "{}",
            serde_json::to_string(&report).context("serializing the report")?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let suites = match args.suite {
        BenchSuite::Serve => return serve(&args),
        BenchSuite::Platform => return platform(&args),
        BenchSuite::LargeState => return large_state(&args),
        BenchSuite::Remote => return remote(&args),
        BenchSuite::All => Suite::ALL.to_vec(),
        BenchSuite::Interaction => vec![Suite::Interaction],
        BenchSuite::Fanout => vec![Suite::Fanout],
        BenchSuite::Apps => vec![Suite::Apps],
    };
    let modes = if args.modes.is_empty() {
        Mode::ALL.to_vec()
    } else {
        args.modes.iter().map(|m| mode(*m)).collect()
    };
    if modes.iter().any(|m| m.is_baseline()) {
        runner::ensure_redis()?;
    }
    let examples = args
        .examples
        .canonicalize()
        .with_context(|| format!("the examples directory {}", args.examples.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix("faastlane-bench-")
        .tempdir()
        .context("creating a scratch directory")?;
    let options = PlanOptions {
        suites,
        modes,
        quick: args.quick,
        examples,
        scratch: scratch.path().to_path_buf(),
        python: suite::worker_python().context("finding the Python for the workers")?,
        threads: runner::available_cpus(),
        clients: args.clients,
    };
    let cases = suite::plan(&options, &suite::python_environment).context("planning the suite")?;

    let load_before = bench::report::load_average();
    let started = Instant::now();
    let progress = ProgressBar::new(cases.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let exe = std::env::current_exe().context("finding this program")?;
    let mut records = Vec::with_capacity(cases.len());
    for (i, case) in cases.iter().enumerate() {
        progress.set_message(format!(
            "{} / {} / {}",
            case.suite.name(),
            label(case),
            case.mode.name()
        ));
        let spec = scratch.path().join(format!("case-{i}.json"));
        let record = run_child(&exe, &spec, case, Duration::from_secs(args.case_timeout));
        if record.status == Status::Failed {
            progress.println(format!(
                "failed: {} / {} / {}: {}",
                case.suite.name(),
                label(case),
                case.mode.name(),
                record.note
            ));
        }
        records.push(record);
        progress.inc(1);
    }
    progress.finish_with_message(format!("done in {:.0?}", started.elapsed()));

    let date = chrono::Utc::now();
    let name = args.name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            date.format("%Y-%m-%d"),
            if args.quick { "quick" } else { "full" }
        )
    });
    let meta = Meta {
        title: format!(
            "faastlane benchmarks ({})",
            if args.quick { "quick" } else { "full" }
        ),
        command: command_line(&args),
        machine: format!(
            "{}; Python {}; {}",
            report::machine_description(),
            python_version(),
            redis_version()
        ),
        date: format!(
            "{} (the suite took {:.0} s; 1-minute load average {} before, {} after: other \
             work on the machine shows here)",
            date.format("%Y-%m-%d %H:%M UTC"),
            started.elapsed().as_secs_f64(),
            load_before,
            bench::report::load_average()
        ),
    };
    let written = runner::write_results(&args.out, &name, &meta, &records)?;
    println!("{}", written.page);
    eprintln!(
        "wrote {}, {} and {} chart(s)",
        written.json.display(),
        written.md.display(),
        written.charts
    );
    let failed = records
        .iter()
        .filter(|r| r.status == Status::Failed)
        .count();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{failed} case(s) failed; see the notes in the results");
        ExitCode::from(1)
    })
}

/// The child's side: run one case, print its record as JSON.
fn run_one(spec: &Path) -> Result<ExitCode> {
    let case = bench::clients::read_case(spec)?;
    let record = if bench::case::scales_out(&case) {
        let exe = std::env::current_exe().context("finding this program")?;
        bench::clients::scale_out(&exe, spec, &case)
    } else {
        bench::run_case(&case)
    };
    println!(
        "{}",
        serde_json::to_string(&record).context("serializing the record")?
    );
    Ok(ExitCode::SUCCESS)
}

fn mode(m: BenchMode) -> Mode {
    match m {
        BenchMode::Faastlane => Mode::Faastlane,
        BenchMode::FaastlaneProcess => Mode::FaastlaneProcess,
        BenchMode::BaselineWarm => Mode::BaselineWarm,
        BenchMode::BaselineCold => Mode::BaselineCold,
    }
}

/// The command as a user would type it to reproduce these results.
fn command_line(args: &BenchArgs) -> String {
    let suite = match args.suite {
        BenchSuite::All => "all",
        BenchSuite::Interaction => "interaction",
        BenchSuite::Fanout => "fanout",
        BenchSuite::Apps => "apps",
        BenchSuite::Serve => "serve",
        BenchSuite::Platform => "platform",
        BenchSuite::LargeState => "large-state",
        BenchSuite::Remote => "remote",
    };
    let mut line = format!("cargo run --release -- bench --suite {suite}");
    if args.quick {
        line.push_str(" --quick");
    }
    if !args.modes.is_empty() {
        let modes: Vec<&str> = args.modes.iter().map(|m| mode(*m).name()).collect();
        line.push_str(&format!(" --modes {}", modes.join(",")));
    }
    if args.soak_seconds > 0 {
        line.push_str(&format!(" --soak-seconds {}", args.soak_seconds));
    }
    line
}

/// The `remote` suite: FINRA-200 through remote lanes (`bench::remote`), its report on
/// stdout and in `OUT/NAME.md`.
fn remote(args: &BenchArgs) -> Result<ExitCode> {
    let examples = args
        .examples
        .canonicalize()
        .with_context(|| format!("the examples directory {}", args.examples.display()))?;
    let repo = examples
        .parent()
        .map(std::path::Path::to_path_buf)
        .context("the examples directory has no parent (the repository)")?;
    let options = bench::remote::RemoteBenchOptions {
        exe: std::env::current_exe().context("finding this program")?,
        repo,
        examples,
        quick: args.quick,
        command: command_line(args),
    };
    let report = bench::remote::run(&options)?;
    write_report(args, "remote", &report)
}

/// The `large-state` suite (`bench::large_state`): its report on stdout and in `OUT/NAME.md`.
fn large_state(args: &BenchArgs) -> Result<ExitCode> {
    let options = bench::large_state::LargeStateOptions {
        exe: std::env::current_exe().context("finding this program")?,
        python: suite::worker_python().context("finding the Python to compare with")?,
        quick: args.quick,
        command: command_line(args),
    };
    let report = bench::large_state::run(&options)?;
    write_report(args, "large-state", &report)
}

/// Prints a suite's Markdown report and writes it to `OUT/NAME.md`.
fn write_report(args: &BenchArgs, suite: &str, report: &str) -> Result<ExitCode> {
    print!("{report}");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{suite}", chrono::Utc::now().format("%Y-%m-%d")));
    let path = args.out.join(format!("{name}.md"));
    std::fs::write(&path, report).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// The `serve` suite: `faastlane serve` under wrk (`bench::serve`), its report on stdout and
/// in `OUT/NAME.md`.
fn serve(args: &BenchArgs) -> Result<ExitCode> {
    let options = bench::serve::ServeOptions {
        exe: std::env::current_exe().context("finding this program")?,
        quick: args.quick,
        connections: args.clients.max(1) * 4,
        soak_seconds: args.soak_seconds,
        command: command_line(args),
    };
    let report = bench::serve::run(&options)?;
    write_report(args, "serve", &report)
}

/// `--suite platform`: cold start and warm activation of `faastlane openwhisk` and
/// `faastlane lambda`; prints a Markdown table and writes it to `OUT/NAME-platform.md`.
fn platform(args: &BenchArgs) -> Result<ExitCode> {
    let scratch = tempfile::Builder::new()
        .prefix("faastlane-bench-platform-")
        .tempdir()
        .context("creating a scratch directory")?;
    let options = bench::platform::PlatformOptions {
        exe: std::env::current_exe().context("finding this program")?,
        scratch: scratch.path().to_path_buf(),
        cold_runs: if args.quick { 5 } else { 20 },
        warm_runs: if args.quick { 500 } else { 5000 },
    };
    let report = bench::platform::run(&options).context("the platform suite")?;
    let table = bench::platform::table(&report);
    print!("{table}");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let name = args.name.clone().unwrap_or_else(|| {
        if args.quick {
            "platform-quick"
        } else {
            "platform-full"
        }
        .to_owned()
    });
    let path = args.out.join(format!("{name}.md"));
    std::fs::write(&path, &table).with_context(|| format!("writing {}", path.display()))?;
    Ok(ExitCode::SUCCESS)
}
