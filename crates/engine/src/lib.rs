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
pub mod context;
mod engine;
pub mod history;
mod interpreter;
pub mod lanes;
pub mod native;
pub mod planner;
pub mod runtime;
pub mod trace;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::Identity;
pub use engine::{
    ABORTED, AWS_MAX_HISTORY_EVENTS, BranchLanes, Engine, EngineOptions, ExecutionOptions,
    ExecutionResult, ExecutionStatus, PrepareProblem, Workflow,
};
pub use history::{HistoryEvent, HistoryLog, HistorySink};
pub use native::NativeRuntime;
pub use runtime::{
    Call, CancelToken, LogSink, NoLog, PrepareError, RequestId, Runtime, TaskFailure,
};
pub use trace::{Lane, LaneDecision, TraceReport};
