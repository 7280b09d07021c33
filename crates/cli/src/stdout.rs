//! The execution's output gets stdout to itself: `faastlane run ... | jq` reads JSON only.
//!
//! Functions write to fd 1 in ways no `sys.stdout` capture sees (`os.write(1, ...)`, a child
//! process from `subprocess.run`, C code calling `printf`). So before anything runs, the real
//! stdout moves to a private descriptor that only the output is written to, and fd 1 becomes
//! a copy of stderr for everything else: this process, its threads, and every process it
//! forks or starts later (fork server, lane workers, a function's children) inherit that.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;

use anyhow::{Context, Result};

/// Where the execution's output goes: the process's stdout as it was at start.
pub struct ResultOut(File);

/// Moves the real stdout to a private descriptor (closed in programs this process execs) and
/// points fd 1 at stderr.
pub fn divert() -> Result<ResultOut> {
    let stdout = std::io::stdout();
    let private = rustix::io::fcntl_dupfd_cloexec(stdout.as_fd(), 3)
        .context("keeping stdout on a private descriptor")?;
    rustix::stdio::dup2_stdout(std::io::stderr().as_fd())
        .context("pointing stdout at stderr while functions run")?;
    Ok(ResultOut(File::from(private)))
}

impl ResultOut {
    /// Writes `text`; a reader that went away (`| head`) is not an error worth a panic.
    /// Writes `json` compact with a newline, serialized straight into the output: a large
    /// output is never held as text too.
    pub fn emit_json(&mut self, json: &serde_json::Value) -> Result<()> {
        let mut writer = std::io::BufWriter::with_capacity(1 << 16, &mut self.0);
        let written = serde_json::to_writer(&mut writer, json)
            .map_err(std::io::Error::from)
            .and_then(|()| writer.write_all(b"\n"))
            .and_then(|()| writer.flush());
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        }
    }

    pub fn emit(&mut self, text: &[u8]) -> Result<()> {
        match self.0.write_all(text).and_then(|()| self.0.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        }
    }
}
