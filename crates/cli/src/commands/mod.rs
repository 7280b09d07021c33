//! One module per subcommand.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::Command;

#[cfg(feature = "bench")]
mod bench;
mod graph;
mod isolation;
mod platform;
mod run;
mod serve;
mod validate;

pub fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Graph(args) => graph::run(args),
        #[cfg(feature = "bench")]
        Command::Bench(args) => bench::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Openwhisk(args) => platform::openwhisk(args),
        Command::Lambda => platform::lambda(),
        Command::Executor(args) => serve::executor(args),
    }
}

/// Writes the command's result to stdout. A reader that went away (`| head`) is not an error
/// worth a panic: the output simply has nowhere to go.
pub(crate) fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
