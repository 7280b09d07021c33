//! Cases with concurrent clients in faastlane's modes: one faastlane instance (a child
//! process of this binary, `faastlane bench --run-client SPEC`) per client, as a platform
//! scales a workflow out. The case process starts them, waits until every one has set up and
//! warmed up, starts them together over their stdin, and makes one record of their reports.

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bench::Record;
use bench::case::CaseSpec;

/// A case with concurrent clients in faastlane's modes: one instance (a child process of
/// this binary, `--run-client`) per client. All set up and warm up, then start together; the
/// wall time runs from the start signal to the last client's report.
pub(super) fn scale_out(spec_path: &Path, case: &CaseSpec) -> Record {
    let failed = |why: String| case.record().failed(why);
    match run_clients(spec_path, case) {
        Ok((reports, wall)) => bench::case::scaled_out_record(case, &reports, wall)
            .unwrap_or_else(|e| failed(e.to_string())),
        Err(e) => failed(format!("{e:#}")),
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
            Some(Err(e)) => Err(e).with_context(|| format!("reading a client's {what}")),
            None => {
                let _ = self.child.wait();
                bail!("a client ended before its {what}")
            }
        }
    }
}

fn run_clients(
    spec_path: &Path,
    case: &CaseSpec,
) -> Result<(Vec<bench::case::ClientReport>, Duration)> {
    use std::io::{BufRead, Write};
    let exe = std::env::current_exe().context("finding this program")?;
    let mut clients = Vec::with_capacity(case.clients);
    for _ in 0..case.clients {
        let mut child = Command::new(&exe)
            .arg("bench")
            .arg("--run-client")
            .arg(spec_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let (Some(start), Some(out), Some(mut err)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            bail!("a client's pipes are missing");
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
                bail!("a client said {line:?} instead of ready");
            }
        }
        let started = Instant::now();
        for client in &mut clients {
            writeln!(client.start, "go").context("starting a client")?;
        }
        let mut reports = Vec::with_capacity(clients.len());
        for client in &mut clients {
            let line = client.next_line("report")?;
            reports.push(
                serde_json::from_str::<bench::case::ClientReport>(&line)
                    .with_context(|| format!("a client's report: {line}"))?,
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
    outcome.map_err(|e| {
        if why.is_empty() {
            e
        } else {
            e.context(why.join(" | "))
        }
    })
}

/// The client's side of [`scale_out`].
pub(super) fn run_client(spec: &Path) -> Result<ExitCode> {
    use std::io::{BufRead, Write};
    let text = std::fs::read_to_string(spec)
        .with_context(|| format!("reading the case {}", spec.display()))?;
    let case: CaseSpec = serde_json::from_str(&text).context("parsing the case")?;
    let report = bench::case::run_client(&case, || {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready")?;
        out.flush()?;
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line)? {
            0 => Err(std::io::Error::other("no start signal (the case ended)")),
            _ => Ok(()),
        }
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{}",
        serde_json::to_string(&report).context("serializing the report")?
    );
    Ok(ExitCode::SUCCESS)
}
