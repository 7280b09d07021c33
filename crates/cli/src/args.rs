//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "faastlane",
    version,
    about = "Run AWS Step Functions workflows with every function of an execution in one process"
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); FAASTLANE_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Execute a workflow and print its output JSON.
    Run(RunArgs),
    /// Check a definition and list every problem found.
    Validate(ValidateArgs),
    /// Draw the state machine as Mermaid or DOT.
    Graph(GraphArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A workflow directory (holding workflow.json and its functions) or a definition file.
    pub workflow: PathBuf,
    /// The execution input: a JSON file, inline JSON, or '-' for stdin. Default: {}.
    #[arg(short, long)]
    pub input: Option<String>,
    /// The execution's name (default: a random UUID).
    #[arg(long)]
    pub name: Option<String>,
    /// Write the execution trace (per state: start, end, lane, attempts) as JSON to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Where Parallel branches and Map iterations run.
    #[arg(long, value_enum, default_value_t = LanesArg::Auto)]
    pub lanes: LanesArg,
    /// Fail the execution past this many history events, as Step Functions does (0: no limit).
    #[arg(long, default_value_t = engine::AWS_MAX_HISTORY_EVENTS)]
    pub max_events: u64,
    /// Pretty-print the output JSON.
    #[arg(long)]
    pub pretty: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LanesArg {
    /// Let faastlane choose per Parallel/Map state: inline, or worker processes when the
    /// branches' estimated work pays for the forks.
    Auto,
    /// Run every branch on the calling thread, one after the other.
    Inline,
    /// Run branches on threads of this process.
    Threads,
    /// Run branches in worker processes forked from a warm fork server (one per usable CPU
    /// but one) and on the calling thread, whatever they cost (for benchmarks).
    Process,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// A workflow directory or a definition file.
    pub workflow: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// A workflow directory or a definition file.
    pub workflow: PathBuf,
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}
