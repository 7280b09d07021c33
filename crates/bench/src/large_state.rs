//! The `large-state` suite: peak resident memory of one execution with a large state, against
//! Python doing the same with `json.load` / `json.dumps` (issue 9, item 6: goal ≤ 1.5x).
//!
//! Two cases, each a fresh `faastlane run` (its peak is its own) beside a fresh `python3`:
//! - **input**: a document of small records (~82 MB, 440 k records; `--quick`: a quarter)
//!   given with `--input FILE` to one Pass state and written back out, against
//!   `json.dump(json.load(f))` of the same file;
//! - **output**: a Python Task returning 3 M small dicts (`--quick`: 750 k) as the execution's
//!   output, against the same list built and `json.dumps`ed.
//!
//! Both sides run with stdout to `/dev/null`; peaks are sampled from `/proc` every 2 ms
//! ([`crate::memory::Sampler`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::error::BenchError;
use crate::memory::{Sampler, Watched};

/// What the suite runs with.
#[derive(Clone, Debug)]
pub struct LargeStateOptions {
    /// The `faastlane` binary (its `run` subcommand is measured).
    pub exe: PathBuf,
    /// The Python compared against (the embedded interpreter's executable).
    pub python: PathBuf,
    /// Smaller documents.
    pub quick: bool,
    /// The command line that ran the suite, for the report.
    pub command: String,
}

/// One measured command.
#[derive(Clone, Copy, Debug)]
pub struct Peak {
    pub kb: u64,
    pub seconds: f64,
}

/// Writes a document of `records` small records to `path` (with Python: the same records
/// every run).
const MAKE_INPUT: &str = r#"
import json, sys
n = int(sys.argv[2])
records = [{"id": i, "name": "user-%d" % i, "email": "user%d@example.com" % i,
            "tags": ["alpha", "beta", "gamma"][: i % 3 + 1], "score": (i * 7919 % 100000) / 1000,
            "active": i % 2 == 0, "address": {"city": "Springfield", "zip": "%05d" % (i % 100000)}}
           for i in range(n)]
with open(sys.argv[1], "w") as f:
    json.dump({"records": records}, f)
"#;

const PYTHON_INPUT: &str = r#"
import json, sys
with open(sys.argv[1]) as f:
    document = json.load(f)
sys.stdout.write(json.dumps(document, separators=(",", ":")))
"#;

const PYTHON_OUTPUT: &str = r#"
import json, sys
n = int(sys.argv[1])
sys.stdout.write(json.dumps([{"i": i, "s": "x"} for i in range(n)], separators=(",", ":")))
"#;

const OUTPUT_FUNCTION: &str = r#"
def handler(event, context):
    return [{"i": i, "s": "x"} for i in range(event["n"])]
"#;

/// Runs the suite; the report in Markdown.
pub fn run(options: &LargeStateOptions) -> Result<String, BenchError> {
    let scratch = tempfile::Builder::new()
        .prefix("faastlane-large-state-")
        .tempdir()
        .map_err(BenchError::Io)?;
    let dir = scratch.path();
    let (records, dicts) = if options.quick {
        (110_000, 750_000)
    } else {
        (440_000, 3_000_000)
    };

    let input = dir.join("input.json");
    check(
        Command::new(&options.python)
            .args(["-c", MAKE_INPUT])
            .arg(&input)
            .arg(records.to_string()),
        "writing the input document",
    )?;
    #[expect(
        clippy::cast_precision_loss,
        reason = "a file size in MB, for the report"
    )]
    let input_mb = std::fs::metadata(&input)?.len() as f64 / 1e6;
    let pass = dir.join("pass");
    write(
        &pass.join("workflow.json"),
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
    )?;
    let build = dir.join("build");
    write(
        &build.join("workflow.json"),
        r#"{"StartAt": "Build", "States": {"Build": {"Type": "Task", "Resource": "build", "End": true}}}"#,
    )?;
    write(&build.join("build.py"), OUTPUT_FUNCTION)?;

    let faastlane = |workflow: &Path, input: &str| {
        let mut command = Command::new(&options.exe);
        command
            .arg("run")
            .arg(workflow)
            .args(["--lanes", "inline", "--input", input]);
        command
    };
    let input_arg = input.display().to_string();
    let input_ours = measure(&mut faastlane(&pass, &input_arg), "faastlane run (input)")?;
    let input_python = measure(
        Command::new(&options.python)
            .args(["-c", PYTHON_INPUT])
            .arg(&input),
        "python json.load + json.dumps",
    )?;
    let output_ours = measure(
        &mut faastlane(&build, &format!(r#"{{"n": {dicts}}}"#)),
        "faastlane run (output)",
    )?;
    let output_python = measure(
        Command::new(&options.python)
            .args(["-c", PYTHON_OUTPUT])
            .arg(dicts.to_string()),
        "python build + json.dumps",
    )?;

    let mut out = String::new();
    let _ = writeln!(out, "# Large states: peak resident memory\n");
    let _ = writeln!(out, "Command: `{}`\n", options.command);
    let _ = writeln!(
        out,
        "| case | faastlane | python | ratio | goal |\n|---|---:|---:|---:|---|"
    );
    for (case, ours, python) in [
        (
            format!("input: {input_mb:.0} MB of {records} records through a Pass state"),
            input_ours,
            input_python,
        ),
        (
            format!("output: {dicts} small dicts from a Python Task"),
            output_ours,
            output_python,
        ),
    ] {
        #[expect(clippy::cast_precision_loss, reason = "KiB counts of memory")]
        let ratio = ours.kb as f64 / python.kb.max(1) as f64;
        let _ = writeln!(
            out,
            "| {case} | {} MB ({:.1} s) | {} MB ({:.1} s) | {ratio:.2}x | ≤ 1.5x: {} |",
            ours.kb / 1024,
            ours.seconds,
            python.kb / 1024,
            python.seconds,
            if ratio <= 1.5 { "met" } else { "missed" },
        );
    }
    let _ = writeln!(
        out,
        "\nfaastlane: `faastlane run DIR --lanes inline --input ...`, stdout to /dev/null; \
         python: the same document with `json.load` + `json.dumps`. Peaks sampled from \
         /proc every 2 ms."
    );
    Ok(out)
}

fn write(path: &Path, text: &str) -> Result<(), BenchError> {
    let failed = |source| BenchError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    std::fs::write(path, text).map_err(failed)
}

fn check(command: &mut Command, what: &str) -> Result<(), BenchError> {
    let status = command
        .stdin(Stdio::null())
        .status()
        .map_err(|source| BenchError::Spawn {
            program: what.to_owned(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(BenchError::Execution(format!("{what}: {status}")))
    }
}

/// Runs `command` with stdout to /dev/null; its peak RSS and wall time.
fn measure(command: &mut Command, what: &str) -> Result<Peak, BenchError> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|source| BenchError::Spawn {
            program: what.to_owned(),
            source,
        })?;
    let sampler = Sampler::start(Watched {
        fixed: vec![child.id()],
        ..Watched::default()
    });
    let status = child.wait()?;
    let kb = sampler.finish();
    if !status.success() {
        return Err(BenchError::Execution(format!("{what}: {status}")));
    }
    Ok(Peak {
        kb,
        seconds: started.elapsed().as_secs_f64(),
    })
}
