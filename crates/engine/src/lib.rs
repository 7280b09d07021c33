//! faastlane's engine: interprets a validated [`asl::StateMachine`], calling Task functions
//! through a [`Runtime`].

pub mod native;
pub mod runtime;

pub use native::NativeRuntime;
pub use runtime::{Call, CancelToken, LogSink, NoLog, PrepareError, Runtime, TaskFailure};
