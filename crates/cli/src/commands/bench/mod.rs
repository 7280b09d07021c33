//! `faastlane bench`: the benchmark suite against the container-per-function baseline
//! (cases with concurrent clients of faastlane's modes: `clients.rs`).
//!
//! Plans the cases (`bench::suite`), runs each in a child process of this binary
//! (`faastlane bench --run-case SPEC`) so that its memory is its own, shows a progress bar,
//! and writes `OUT/NAME.json`, `OUT/NAME.md` and `OUT/NAME-*.svg`.

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bench::case::CaseSpec;
use bench::report::{self, Meta};
use bench::suite::{self, PlanOptions};
use bench::{Mode, Record, Status, Suite};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{BenchArgs, BenchMode, BenchSuite};

mod clients;

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    if let Some(spec) = &args.run_case {
        return run_one(spec);
    }
    if let Some(spec) = &args.run_client {
        return clients::run_client(spec);
    }
    let suites = match args.suite {
        BenchSuite::Serve => return serve(&args),
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
        ensure_redis()?;
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
        threads: available_cpus(),
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
    write_results(&args.out, &name, &meta, &records)?;
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
    let text = std::fs::read_to_string(spec)
        .with_context(|| format!("reading the case {}", spec.display()))?;
    let case: CaseSpec = serde_json::from_str(&text).context("parsing the case")?;
    let record = if bench::case::scales_out(&case) {
        clients::scale_out(spec, &case)
    } else {
        bench::run_case(&case)
    };
    println!(
        "{}",
        serde_json::to_string(&record).context("serializing the record")?
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs a case in a child process; a crash or a timeout is a failed record.
fn run_child(exe: &Path, spec_path: &Path, case: &CaseSpec, timeout: Duration) -> Record {
    let failed = |why: String| case.record().failed(why);
    let written = serde_json::to_string(case)
        .map_err(|e| e.to_string())
        .and_then(|text| std::fs::write(spec_path, text).map_err(|e| e.to_string()));
    if let Err(e) = written {
        return failed(format!("writing the case: {e}"));
    }
    let child = Command::new(exe)
        .arg("bench")
        .arg("--run-case")
        .arg(spec_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return failed(format!("starting {}: {e}", exe.display())),
    };
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let tail = || {
        let lines: Vec<&str> = stderr.lines().rev().take(8).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    };
    let Some(status) = status else {
        return failed(format!("timed out after {timeout:?}; {}", tail()));
    };
    match stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Record>(l).ok())
    {
        Some(record) => record,
        None => failed(format!("the case process ended with {status}: {}", tail())),
    }
}

fn write_results(out: &Path, name: &str, meta: &Meta, records: &[Record]) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut charts = report::charts(records);
    for chart in &mut charts {
        chart.file = format!("{name}-{}", chart.file);
        let path = out.join(&chart.file);
        std::fs::write(&path, &chart.svg).with_context(|| format!("writing {}", path.display()))?;
    }
    let json = bench::record::to_json(records).context("serializing the records")?;
    let json_path = out.join(format!("{name}.json"));
    std::fs::write(&json_path, json + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    let page = report::markdown(meta, records, &charts);
    let md_path = out.join(format!("{name}.md"));
    std::fs::write(&md_path, &page).with_context(|| format!("writing {}", md_path.display()))?;
    println!("{page}");
    eprintln!(
        "wrote {}, {} and {} chart(s)",
        json_path.display(),
        md_path.display(),
        charts.len()
    );
    Ok(())
}

/// Installs redis-server with the repository's script when it is missing.
fn ensure_redis() -> Result<()> {
    if bench::redis_server::find_program("redis-server").is_some() {
        return Ok(());
    }
    let script = Path::new("scripts/ensure-redis.sh");
    if !script.is_file() {
        bail!(
            "redis-server is not installed; install Debian's redis-server (scripts/ensure-redis.sh in the repository)"
        );
    }
    eprintln!("redis-server is missing: running {}", script.display());
    let status = Command::new("bash")
        .arg(script)
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() || bench::redis_server::find_program("redis-server").is_none() {
        bail!(
            "{} could not install redis-server ({status})",
            script.display()
        );
    }
    Ok(())
}

fn mode(m: BenchMode) -> Mode {
    match m {
        BenchMode::Faastlane => Mode::Faastlane,
        BenchMode::FaastlaneProcess => Mode::FaastlaneProcess,
        BenchMode::BaselineWarm => Mode::BaselineWarm,
        BenchMode::BaselineCold => Mode::BaselineCold,
    }
}

fn label(case: &CaseSpec) -> String {
    if case.clients > 1 {
        format!("{} x{} clients", case.case, case.clients)
    } else {
        case.case.clone()
    }
}

/// The command as a user would type it to reproduce these results.
/// The `serve` suite: `faastlane serve` under wrk (bench::serve), its report on stdout and
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
    print!("{report}");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-serve", chrono::Utc::now().format("%Y-%m-%d")));
    let path = args.out.join(format!("{name}.md"));
    std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn command_line(args: &BenchArgs) -> String {
    let suite = match args.suite {
        BenchSuite::All => "all",
        BenchSuite::Interaction => "interaction",
        BenchSuite::Fanout => "fanout",
        BenchSuite::Apps => "apps",
        BenchSuite::Serve => "serve",
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

fn python_version() -> String {
    suite::worker_python()
        .ok()
        .and_then(|_| python_runtime::init().ok())
        .map_or_else(
            || "unknown".into(),
            |info| {
                info.version
                    .split_whitespace()
                    .next()
                    .unwrap_or("?")
                    .to_string()
            },
        )
}

fn redis_version() -> String {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| {
            v.split_whitespace()
                .find_map(|w| w.strip_prefix("v="))
                .map(|v| format!("redis-server {v}"))
        })
        .unwrap_or_else(|| "redis-server (version unknown)".into())
}

fn available_cpus() -> usize {
    std::thread::available_parallelism()
        .map(std::num::NonZero::get)
        .unwrap_or(1)
}
