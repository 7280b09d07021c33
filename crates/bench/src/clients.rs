//! Cases with concurrent clients in faastlane's modes: one faastlane instance (a child
//! process of the `faastlane` binary, `faastlane bench --run-client SPEC`) per client, as a platform
//! scales a workflow out. The case process starts them, waits until every one has set up and
//! warmed up, starts them together over their stdin, and makes one record of their reports.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::case::{CaseSpec, ClientReport};
use crate::{BenchError, Record};

type Result<T> = std::result::Result<T, BenchError>;

fn client_error(message: impl Into<String>) -> BenchError {
    BenchError::Client {
        message: message.into(),
        stderr: String::new(),
    }
}

/// A case with concurrent clients in faastlane's modes: one instance (a child process of
/// `exe`, `bench --run-client`) per client. All set up and warm up, then start together; the
/// wall time runs from the start signal to the last client's report.
pub fn scale_out(exe: &Path, spec_path: &Path, case: &CaseSpec) -> Record {
    let failed = |why: String| case.record().failed(why);
    match run_clients(exe, spec_path, case) {
        Ok((reports, wall)) => crate::case::scaled_out_record(case, &reports, wall)
            .unwrap_or_else(|e| failed(e.to_string())),
        Err(e) => failed(e.to_string()),
    }
}

/// A client process, its stdin (the start signal) and its stdout, read line by line.
struct Client {
    child: std::process::Child,
    start: std::process::ChildStdin,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    stderr: std::thread::JoinHandle<String>,
}

impl Client {
    fn next_line(&mut self, what: &str) -> Result<String> {
        match self.lines.next() {
            Some(Ok(line)) => Ok(line),
            Some(Err(e)) => Err(client_error(format!("reading a client's {what}: {e}"))),
            None => {
                let _ = self.child.wait();
                Err(client_error(format!("a client ended before its {what}")))
            }
        }
    }
}

fn run_clients(
    exe: &Path,
    spec_path: &Path,
    case: &CaseSpec,
) -> Result<(Vec<ClientReport>, Duration)> {
    use std::io::{BufRead, Write};
    let mut clients = Vec::with_capacity(case.clients);
    for _ in 0..case.clients {
        let mut child = Command::new(exe)
            .arg("bench")
            .arg("--run-client")
            .arg(spec_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| BenchError::Spawn {
                program: exe.display().to_string(),
                source,
            })?;
        let (Some(start), Some(out), Some(mut err)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(client_error("a client's pipes are missing"));
        };
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        clients.push(Client {
            child,
            start,
            lines: std::io::BufReader::new(out).lines(),
            stderr,
        });
    }
    // Until every client is ready; a client that fails says why on stderr.
    let outcome = (|| {
        for client in &mut clients {
            let line = client.next_line("ready signal")?;
            if line != "ready" {
                return Err(client_error(format!(
                    "a client said {line:?} instead of ready"
                )));
            }
        }
        let started = Instant::now();
        for client in &mut clients {
            writeln!(client.start, "go")
                .map_err(|e| client_error(format!("starting a client: {e}")))?;
        }
        let mut reports = Vec::with_capacity(clients.len());
        for client in &mut clients {
            let line = client.next_line("report")?;
            reports.push(
                serde_json::from_str::<ClientReport>(&line)
                    .map_err(|e| client_error(format!("a client's report: {line}: {e}")))?,
            );
        }
        Ok((reports, started.elapsed()))
    })();
    let mut why = Vec::new();
    for mut client in clients {
        drop(client.start);
        let _ = client.child.kill();
        let _ = client.child.wait();
        let text = client.stderr.join().unwrap_or_default();
        if let Some(last) = text.lines().rev().find(|l| !l.trim().is_empty()) {
            why.push(last.to_string());
        }
    }
    outcome.map_err(|e| match e {
        BenchError::Client { message, .. } => BenchError::Client {
            message,
            stderr: why.join(" | "),
        },
        other if why.is_empty() => other,
        other => BenchError::Client {
            message: other.to_string(),
            stderr: why.join(" | "),
        },
    })
}

/// The client's side of [`scale_out`]: sets up and warms up the case in `spec`, prints
/// `ready`, waits for a line on stdin, runs, and returns the report for its parent.
pub fn run_client(spec: &Path) -> Result<ClientReport> {
    use std::io::{BufRead, Write};
    let case = read_case(spec)?;
    crate::case::run_client(&case, || {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready")?;
        out.flush()?;
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line)? {
            0 => Err(std::io::Error::other("no start signal (the case ended)")),
            _ => Ok(()),
        }
    })
}

/// The case a `--run-case` or `--run-client` file describes.
pub fn read_case(spec: &Path) -> Result<CaseSpec> {
    let case_error = |message: String| BenchError::Case {
        path: spec.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(spec).map_err(|e| case_error(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| case_error(e.to_string()))
}
