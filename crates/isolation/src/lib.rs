//! Isolation domains for workflows that handle sensitive data.
//!
//! A workflow marks the functions that see sensitive data (`faastlane.json`, [`Settings`]);
//! with no marking every function counts. Each such function then runs isolated from the
//! others, in one of two ways ([`Mode`], chosen by [`choose`]):
//!
//! - **mpk** ([`DomainIsolated`]): a protection domain per function (Intel memory
//!   protection keys, crate `mpk`); entering the function's Task switches the thread's PKRU
//!   to its own domain + the shared one, and a touch of another domain's memory fails the
//!   Task with `Faastlane.IsolationViolation` instead of crashing the process;
//! - **process** ([`ProcessIsolated`]): each call in a fresh worker process forked from a
//!   fork server, its input and result marshalled with the runtime's codec, as process
//!   lanes do. Works on any CPU.

mod domain;
mod process;
mod settings;

pub use domain::{DomainIsolated, DomainMemory, alloc_private};
pub use process::{IsolationWorkflowError, ProcessIsolated, isolation_workflow};
pub use settings::{Choice, ChoiceError, Mode, SETTINGS_FILE, Settings, SettingsError, choose};

/// The error a Task fails with when its function touched another domain's memory.
pub const ISOLATION_VIOLATION: &str = "Faastlane.IsolationViolation";
