//! The executor process: reads [`Job`]s, one JSON line each, from stdin and writes each
//! [`JobResult`] as one JSON line to the protocol stream. That stream is the process's
//! original stdout; fd 1 itself is pointed at stderr first, so whatever user code prints
//! (Python's `print`, a C extension writing to fd 1) cannot corrupt the protocol.

use std::io::{BufRead, Write};

use engine::{Identity, LogSink};

use super::{Job, JobResult, Runner};

/// The environment variable naming the server's pid, so an executor can tell whether its
/// server died before it asked to die with it.
pub const SERVER_PID: &str = "FAASTLANE_SERVER_PID";

/// Runs jobs until stdin closes (the server went away or shut the executor down).
pub fn main() -> std::io::Result<()> {
    main_with(None)
}

/// [`main`], each function directory's runtime wrapped with `wrap` (isolation).
pub fn main_with(wrap: Option<super::Wrap>) -> std::io::Result<()> {
    // Die with the server, even mid-execution (kill -9 of the server must not leave orphans
    // running user code); a server already gone before this point is caught just after.
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
    let server = std::env::var(SERVER_PID)
        .ok()
        .and_then(|p| p.parse::<i32>().ok());
    let parent = rustix::process::getppid().map(rustix::process::Pid::as_raw_nonzero);
    if server.is_some() && server != parent.map(|p| p.get()) {
        return Ok(());
    }
    let protocol = rustix::io::dup(std::io::stdout())?;
    rustix::stdio::dup2_stdout(std::io::stderr())?;
    let mut protocol = std::io::BufWriter::new(std::fs::File::from(protocol));
    let mut runner =
        Runner::new(Identity::from_env(), true, std::sync::Arc::new(StderrLog)).with_wrap(wrap);
    let stdin = std::io::stdin();
    let mut line = String::new();
    let mut memory_limited = false;
    loop {
        line.clear();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(());
        }
        let result = match serde_json::from_str::<Job>(&line) {
            Ok(job) => {
                // Every job of a server carries the same limits: applied once, before any
                // of its functions runs. Past it an allocation fails in this process only
                // (Python raises MemoryError, Rust aborts: Runtime.ExitError).
                if let (false, Some(bytes)) = (memory_limited, job.limits.executor_memory_bytes) {
                    lanes::limit_memory(bytes)?;
                    memory_limited = true;
                }
                runner.run(&job)
            }
            Err(e) => JobResult::failed(
                "States.Runtime",
                format!("the executor got a malformed job: {e}"),
            ),
        };
        let text = serde_json::to_string(&result).map_err(std::io::Error::other)?;
        protocol.write_all(text.as_bytes())?;
        protocol.write_all(b"\n")?;
        protocol.flush()?;
    }
}

/// What functions print, on the executor's stderr (the server's), tagged with the state.
struct StderrLog;

impl LogSink for StderrLog {
    fn line(&self, state: &str, line: &str) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "[{state}] {line}");
    }
}
