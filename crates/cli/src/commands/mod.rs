//! One module per subcommand.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::Command;

mod bench;
mod graph;
mod run;
mod validate;

pub fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
