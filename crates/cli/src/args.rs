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
    /// Benchmark faastlane against a container-per-function baseline.
    #[cfg(feature = "bench")]
    Bench(BenchArgs),
    /// Serve the AWS Step Functions API: point the AWS CLI, boto3 or an SDK at it with
    /// `--endpoint-url http://localhost:8083`.
    Serve(ServeArgs),
    /// Serve one OpenWhisk action: the action-proxy protocol (`POST /init` with the
    /// workflow, `POST /run` per activation), as OpenWhisk's runtime images do.
    Openwhisk(OpenWhiskArgs),
    /// Run as an AWS Lambda custom runtime (what a `bootstrap` execs): the workflow from
    /// `LAMBDA_TASK_ROOT` (or `_HANDLER` naming a directory), invocations from
    /// `AWS_LAMBDA_RUNTIME_API`.
    Lambda,
    /// Run executions sent by `faastlane serve` (one JSON line each on stdin).
    #[command(hide = true)]
    Executor(ExecutorArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExecutorArgs {
    /// The isolation `faastlane serve --isolation` chose, with each function directory's
    /// sensitive functions (JSON).
    #[arg(long, value_name = "JSON")]
    pub isolation_spec: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Workflow directories to register at start (name = the directory's name); their
    /// functions are found there too.
    pub workflows: Vec<PathBuf>,
    /// The port to listen on ($PORT, as Knative and Cloud Run set it).
    #[arg(long, env = "PORT", default_value_t = 8083)]
    pub port: u16,
    /// The address to listen on (default: 127.0.0.1, or 0.0.0.0 when $PORT is set: a
    /// container platform routes to the container's own address).
    #[arg(long)]
    pub host: Option<std::net::IpAddr>,
    /// A directory of functions (NAME.py, packages, functions.json); repeatable, searched in
    /// order.
    #[arg(long = "functions", value_name = "DIR")]
    pub functions: Vec<PathBuf>,
    /// The SQLite database (default: faastlane/serve.db under the platform data directory;
    /// `:memory:` keeps nothing).
    #[arg(long)]
    pub db: Option<String>,
    /// Executor processes: executions of workflows with functions that run at once
    /// (default: the usable CPUs).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Step Functions Local's MockConfigFile: start executions on
    /// `<stateMachineArn>#<TestCase>` to answer Tasks from it.
    #[arg(long, env = "SFN_MOCK_CONFIG")]
    pub mock_config: Option<PathBuf>,
    /// Requests larger than this many bytes get HTTP 413.
    #[arg(long, default_value_t = 64 << 20)]
    pub max_request_bytes: usize,
    /// Fail an execution with States.DataLimitExceeded when a state's input or output, as
    /// compact JSON, is larger than this (Step Functions: 262144).
    #[arg(long, value_name = "BYTES")]
    pub max_payload: Option<usize>,
    /// On SIGTERM or SIGINT, seconds running executions get to finish before they are
    /// recorded as failed.
    #[arg(long, default_value_t = 10)]
    pub grace_seconds: u64,
    #[command(flatten)]
    pub limits: ExecutionLimitArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Executor processes for batches of branches sibling instances send (remote lanes;
    /// default: the usable CPUs).
    #[arg(long, value_name = "N")]
    pub lanes_workers: Option<usize>,
    /// Refuse definitions larger than this (Step Functions: 1 MB).
    #[arg(long, value_name = "BYTES", default_value_t = asl::limits::AWS_MAX_DEFINITION_BYTES)]
    pub max_definition_bytes: usize,
    /// Refuse definitions with more states than this (counting those in branches).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_states: usize,
    /// Refuse definitions whose Parallel and Map states nest deeper than this.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_state_nesting: usize,
    /// Limit the address space of each executor process: an execution that needs more
    /// fails (MemoryError, or Runtime.ExitError) while the server and the other executors
    /// carry on.
    #[arg(long, value_name = "MIB")]
    pub executor_memory_mb: Option<u64>,
    /// Isolate the functions each directory's `faastlane.json` marks sensitive (with `mpk`:
    /// every function of a directory without a marking) from each other.
    #[arg(long, value_enum, default_value_t = IsolationArg::None)]
    pub isolation: IsolationArg,
}

impl ServeArgs {
    /// The limits the flags ask for.
    pub fn limits(&self) -> asl::Limits {
        self.limits.over(asl::Limits {
            definition_bytes: Some(self.max_definition_bytes),
            states: Some(self.max_states),
            state_nesting: Some(self.max_state_nesting),
            executor_memory_bytes: self.executor_memory_mb.map(|mb| mb << 20),
            payload_bytes: self.max_payload,
            ..asl::Limits::default()
        })
    }
}

/// What one execution may use: the same flags for `run` and `serve`.
#[derive(Debug, clap::Args)]
pub struct ExecutionLimitArgs {
    /// Fail the execution past this many history events, as Step Functions does (0: no limit).
    #[arg(long, default_value_t = engine::AWS_MAX_HISTORY_EVENTS)]
    pub max_events: u64,
    /// Fail the execution when its input, as compact JSON, is larger than this.
    #[arg(long, value_name = "BYTES")]
    pub max_input_bytes: Option<usize>,
    /// Fail the execution when its output, as compact JSON, is larger than this.
    #[arg(long, value_name = "BYTES")]
    pub max_output_bytes: Option<usize>,
    /// Fail a Map state given more items than this.
    #[arg(long, value_name = "N")]
    pub max_map_items: Option<usize>,
    /// Fail the execution (States.Timeout) once it has run this long.
    #[arg(long, value_name = "SECONDS")]
    pub max_seconds: Option<u64>,
}

impl ExecutionLimitArgs {
    /// These flags over `base`.
    pub fn over(&self, base: asl::Limits) -> asl::Limits {
        asl::Limits {
            history_events: (self.max_events > 0).then_some(self.max_events),
            input_bytes: self.max_input_bytes,
            output_bytes: self.max_output_bytes,
            map_items: self.max_map_items,
            execution_time: self.max_seconds.map(std::time::Duration::from_secs),
            ..base
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct OpenWhiskArgs {
    /// The port to listen on (OpenWhisk's invoker talks to 8080).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The address to listen on (all interfaces: the invoker reaches the container from
    /// outside).
    #[arg(long, default_value = "0.0.0.0")]
    pub host: std::net::IpAddr,
    /// Where `/init` unpacks the action (default: a new directory under the temporary
    /// directory).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Requests larger than this many bytes get HTTP 413 (OpenWhisk's own limits are 48 MB
    /// of code and 5 MB of parameters).
    #[arg(long, default_value_t = 64 << 20)]
    pub max_request_bytes: usize,
    /// Isolate the functions the action's `faastlane.json` marks sensitive (all, without a
    /// marking) from each other.
    #[arg(long, value_enum, env = "FAASTLANE_ISOLATION", default_value_t = IsolationArg::None)]
    pub isolation: IsolationArg,
}

/// Remote lanes: where a Parallel or Map state sends the branches it wants to run at once
/// beyond this instance's usable CPUs.
#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    /// Sibling instances of this workflow: `http://HOST[:PORT]` (other `faastlane serve`
    /// instances behind one URL), `lambda:FUNCTION` (the Invoke API at
    /// $AWS_ENDPOINT_URL_LAMBDA) or `openwhisk:ACTION` (blocking invoke at $__OW_API_HOST
    /// with $__OW_API_KEY).
    #[arg(long, value_name = "URL|lambda:NAME|openwhisk:NAME")]
    pub remote: Option<String>,
    /// The most requests to siblings one Parallel or Map state has in flight.
    #[arg(long, value_name = "N", default_value_t = 4, requires = "remote")]
    pub remote_cap: usize,
    /// Seconds a sibling may take to answer one request before its branches fail with
    /// States.Timeout.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 900.0,
        requires = "remote"
    )]
    pub remote_timeout: f64,
}

impl RemoteArgs {
    /// The configuration, checked (a bad target or cap fails now, not at the first state).
    pub fn config(&self) -> anyhow::Result<Option<server::remote::RemoteConfig>> {
        let Some(target) = &self.remote else {
            return Ok(None);
        };
        let config = server::remote::RemoteConfig {
            target: target.clone(),
            cap: self.remote_cap,
            timeout_seconds: self.remote_timeout,
        };
        config.lanes()?;
        Ok(Some(config))
    }
}

/// `${Name}` placeholders of the definition, as Step Functions' `DefinitionSubstitutions`.
#[derive(Debug, clap::Args)]
pub struct SubstitutionArgs {
    /// Fill `${Name}` in the definition with VALUE (repeatable).
    #[arg(long = "substitute", value_name = "Name=VALUE")]
    pub substitute: Vec<String>,
    /// A JSON file of `{"Name": "VALUE", ...}` placeholders (--substitute wins).
    #[arg(long, value_name = "FILE")]
    pub substitutions: Option<PathBuf>,
}

impl SubstitutionArgs {
    pub fn read(&self) -> anyhow::Result<crate::definition::Substitutions> {
        crate::definition::Substitutions::read(self.substitutions.as_deref(), &self.substitute)
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A workflow directory (holding workflow.json, workflow.yaml or statemachine.asl.json
    /// and its functions) or a definition file (JSON or YAML).
    pub workflow: PathBuf,
    #[command(flatten)]
    pub substitutions: SubstitutionArgs,
    /// The execution input: a JSON file, inline JSON, or '-' for stdin. Default: {}.
    #[arg(short, long)]
    pub input: Option<String>,
    /// The execution's name (default: a random UUID).
    #[arg(long)]
    pub name: Option<String>,
    /// Write the execution trace (per state: start, end, lane, attempts) as JSON to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Write the execution history, as the Step Functions API's GetExecutionHistory returns
    /// it ({"events": [...]}), to this file. Branches then run in this process (threads),
    /// not in worker processes.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Where Parallel branches and Map iterations run.
    #[arg(long, value_enum, default_value_t = LanesArg::Auto)]
    pub lanes: LanesArg,
    #[command(flatten)]
    pub limits: ExecutionLimitArgs,
    /// Fail with States.DataLimitExceeded when a state's input or output, as compact JSON,
    /// is larger than this (Step Functions: 262144). Without it, one warning per execution
    /// names a payload over 256 KiB that would fail on AWS.
    #[arg(long, value_name = "BYTES")]
    pub max_payload: Option<usize>,
    /// Step Functions' limits: 256 KiB payloads (--max-payload 262144) and 25,000 history
    /// events.
    #[arg(long)]
    pub aws_limits: bool,
    /// Limit the address space of each process-lane worker (an execution that needs more
    /// fails with Runtime.ExitError; this process carries on).
    #[arg(long, value_name = "MIB")]
    pub worker_memory_mb: Option<u64>,
    /// Pretty-print the output JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Isolate the functions `faastlane.json` marks sensitive (all, without a marking) from
    /// each other.
    #[arg(long, value_enum, default_value_t = IsolationArg::None)]
    pub isolation: IsolationArg,
    /// Step Functions Local's MockConfigFile; with --test-case, Tasks listed in that test
    /// case get the file's mocked responses instead of running.
    #[arg(long, env = "SFN_MOCK_CONFIG", requires = "test_case")]
    pub mock_config: Option<PathBuf>,
    /// The test case of the mock config (under StateMachines.<workflow name>.TestCases).
    #[arg(long, requires = "mock_config")]
    pub test_case: Option<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IsolationArg {
    /// Functions share the process's memory.
    None,
    /// A protection-key domain per function (Intel MPK); fails where the CPU has none.
    Mpk,
    /// Each call of a sensitive function in a fresh worker process, its result marshalled
    /// back.
    Process,
    /// mpk where it works, else process (says which on stderr).
    Auto,
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
    /// Run every branch in a worker process forked from a warm fork server (one per usable
    /// CPU), whatever it costs: a branch that crashes is `Runtime.ExitError`, one blocked past
    /// its Task's deadline is killed on time. This process only dispatches.
    Process,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// A workflow directory or a definition file.
    pub workflow: PathBuf,
    #[command(flatten)]
    pub substitutions: SubstitutionArgs,
}

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// A workflow directory or a definition file.
    pub workflow: PathBuf,
    #[command(flatten)]
    pub substitutions: SubstitutionArgs,
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[cfg(feature = "bench")]
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Which suite to run.
    #[arg(long, value_enum, default_value_t = BenchSuite::All)]
    pub suite: BenchSuite,
    /// Fewer runs per case (under 2 minutes on 2 vCPUs).
    #[arg(long)]
    pub quick: bool,
    /// Only these modes, comma-separated (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub modes: Vec<BenchMode>,
    /// Where the JSON records, the Markdown table and the SVG charts go.
    #[arg(long, default_value = "bench/results")]
    pub out: PathBuf,
    /// File name stem of the results (default: DATE-quick or DATE-full).
    #[arg(long)]
    pub name: Option<String>,
    /// The directory holding the example applications.
    #[arg(long, default_value = "examples")]
    pub examples: PathBuf,
    /// Concurrent clients of the throughput cases.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Give up on a case after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub case_timeout: u64,
    /// The serve suite: after the cases, load the server for this many seconds more
    /// (10-second slices), counting errors and sampling its memory.
    #[arg(long, default_value_t = 0)]
    pub soak_seconds: u64,
    /// Run the one case described in this file and print its record (the suite runs every
    /// case in a process of its own this way).
    #[arg(long, hide = true)]
    pub run_case: Option<PathBuf>,
    /// Run one client of the case described in this file (a faastlane instance of a case
    /// with concurrent clients): set up, warm up, print `ready`, wait for a line on stdin,
    /// run, print the client's report.
    #[arg(long, hide = true)]
    pub run_client: Option<PathBuf>,
}

#[cfg(feature = "bench")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchSuite {
    All,
    /// Function interaction latency by state size.
    Interaction,
    /// Parallel and Map fan-out overhead.
    Fanout,
    /// End-to-end latency and throughput of the example applications.
    Apps,
    /// `faastlane serve` under load: StartSyncExecution driven by wrk.
    Serve,
    /// The OpenWhisk and Lambda runtimes: cold start (process start to first response) and
    /// warm activation round trip, for a Pass-only workflow and a one-function Python one.
    Platform,
    /// Peak memory of one execution with a large input or output, against Python's json.
    LargeState,
    /// FINRA-200 through remote lanes: 1, 2 and 3 `faastlane serve` instances, each pinned
    /// to one CPU, behind nginx, against one instance alone.
    Remote,
}

#[cfg(feature = "bench")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchMode {
    Faastlane,
    FaastlaneProcess,
    BaselineWarm,
    BaselineCold,
}
