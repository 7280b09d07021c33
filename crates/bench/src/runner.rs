//! Runs the suite's cases as the `faastlane bench` command does: each case in a child process
//! of the binary (`EXE bench --run-case SPEC`, so that its memory and its fork server are
//! its own) under a timeout, cases with concurrent clients as one child per client
//! ([`crate::clients`]), then the results written as JSON, Markdown and SVG. Also what the
//! report says about the machine (Python and redis-server versions, CPUs), and installing
//! redis-server with the repository's script.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::case::CaseSpec;
use crate::report::{self, Meta};
use crate::{BenchError, Record, suite};

/// Runs a case in a child process; a crash or a timeout is a failed record.
pub fn run_child(exe: &Path, spec_path: &Path, case: &CaseSpec, timeout: Duration) -> Record {
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

/// What [`write_results`] wrote.
pub struct Written {
    /// The Markdown page (also in `md`).
    pub page: String,
    pub json: PathBuf,
    pub md: PathBuf,
    pub charts: usize,
}

/// Writes `OUT/NAME.json`, `OUT/NAME.md` and `OUT/NAME-*.svg`.
pub fn write_results(
    out: &Path,
    name: &str,
    meta: &Meta,
    records: &[Record],
) -> Result<Written, BenchError> {
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|source| BenchError::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    std::fs::create_dir_all(out).map_err(|source| BenchError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let mut charts = report::charts(records);
    for chart in &mut charts {
        chart.file = format!("{name}-{}", chart.file);
        write(&out.join(&chart.file), &chart.svg)?;
    }
    let json = crate::record::to_json(records)
        .map_err(|e| BenchError::Execution(format!("serializing the records: {e}")))?;
    let json_path = out.join(format!("{name}.json"));
    write(&json_path, &(json + "\n"))?;
    let page = report::markdown(meta, records, &charts);
    let md_path = out.join(format!("{name}.md"));
    write(&md_path, &page)?;
    Ok(Written {
        page,
        json: json_path,
        md: md_path,
        charts: charts.len(),
    })
}

/// Installs redis-server with the repository's script (`scripts/ensure-redis.sh`, run from
/// the repository's root) when it is missing.
pub fn ensure_redis() -> Result<(), BenchError> {
    if crate::redis_server::find_program("redis-server").is_some() {
        return Ok(());
    }
    let script = Path::new("scripts/ensure-redis.sh");
    if !script.is_file() {
        return Err(BenchError::RedisMissing);
    }
    eprintln!("redis-server is missing: running {}", script.display());
    let status = Command::new("bash")
        .arg(script)
        .stdout(Stdio::null())
        .status()
        .map_err(|source| BenchError::Spawn {
            program: script.display().to_string(),
            source,
        })?;
    if !status.success() || crate::redis_server::find_program("redis-server").is_none() {
        return Err(BenchError::Redis(format!(
            "{} could not install redis-server ({status})",
            script.display()
        )));
    }
    Ok(())
}

/// A case's name for progress lines: with its number of clients when it has several.
pub fn label(case: &CaseSpec) -> String {
    if case.clients > 1 {
        format!("{} x{} clients", case.case, case.clients)
    } else {
        case.case.clone()
    }
}

/// The embedded Python's version (`3.12.3`), or `unknown`.
pub fn python_version() -> String {
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

pub fn redis_version() -> String {
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

pub fn available_cpus() -> usize {
    std::thread::available_parallelism()
        .map(std::num::NonZero::get)
        .unwrap_or(1)
}
