//! faastlane's engine: interprets a validated [`asl::StateMachine`], calling Task functions
//! through a [`Runtime`].
//!
//! ```text
//! Engine::execute(workflow, input)
//!   -> interpreter: one state at a time (InputPath, Parameters, task, ResultSelector,
//!      ResultPath, OutputPath), Retry/Catch, Choice, Wait
//!   -> branches: Parallel branches and Map iterations, inline, on threads or in worker
//!      processes (lanes, chosen by the planner)
//!   -> Runtime::invoke for every Task
//! ```

mod branches;
pub mod clock;
pub mod codec;
pub mod context;
mod engine;
mod exec;
pub mod history;
mod interpreter;
pub mod lambda;
pub mod lanes;
pub mod native;
mod planner;
mod remote;
mod remote_costs;
pub mod runtime;
mod setup;
pub mod trace;
pub mod wire;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::Identity;
pub use engine::{ABORTED, ExecutionOptions, ExecutionResult, ExecutionStatus, PrepareProblem};
pub use history::{HistoryEvent, HistoryLog, HistorySink};
pub use lambda::LambdaResponse;
pub use native::NativeRuntime;
pub use planner::BranchLanes;
pub use runtime::{
    Call, CancelToken, LogSink, NoLog, PrepareError, PrepareErrorKind, RequestId, Runtime,
    StderrLog, TaskFailure,
};
pub use setup::{AWS_MAX_HISTORY_EVENTS, Engine, EngineOptions, Workflow};
pub use trace::{Lane, LaneDecision, RemoteAssignment, RemoteTiming, TraceReport};
