//! `faastlane`: parse the command line, dispatch, map outcomes to exit codes.
//!
//! Exit codes: 0 success; 1 the execution failed (its `{"error", "cause"}` is on stdout);
//! 2 usage, definition or input errors (a message on stderr).

use std::process::ExitCode;

use clap::Parser;

mod args;
mod commands;
mod definition;
mod input;
mod stdout;
mod workflow;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    init_logging(cli.verbose);
    match commands::dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FAASTLANE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
