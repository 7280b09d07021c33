//! faastlane's embedded CPython runtime: the Python functions of a workflow run as calls on
//! the engine's threads, in this process, and the objects they return are handed to the
//! next function as they are.
//!
//! ```no_run
//! use engine::Runtime;
//! use python_runtime::{PythonOptions, PythonRuntime};
//!
//! let runtime = PythonRuntime::with_options("examples/finra", PythonOptions::default().chdir(true))?;
//! let problems = runtime.prepare(&["fetch", "audit"]);
//! # Ok::<(), python_runtime::PythonError>(())
//! ```
//!
//! - Discovery ([`discovery`]): function `NAME` is `NAME.py` or `NAME/__init__.py` in the
//!   workflow directory, called as `handler(event, context)` or else `main(args)`; an
//!   optional `functions.json` maps names to other callables.
//! - State (`convert.rs`, [`PyHandle`]): JSON input becomes Python objects; a function's
//!   result stays a Python object behind an [`asl::Foreign`] handle unless it is a scalar, and
//!   goes back to the next function as the same object.
//! - Lambda semantics: a `context` like Lambda's ([`context`]); exceptions reported as Lambda
//!   reports them (`failure.rs`); a function returning `None` yields JSON `null`, as on Lambda.
//! - Logs (`output.rs`): `print` and `logging` go to the call's [`engine::LogSink`], tagged
//!   with the state name, never to the process's stdout.
//! - Timeouts ([`watchdog`]): a function running past its deadline is interrupted and the
//!   task fails with `States.Timeout`.
//! - `requirements.txt` ([`venv`]): installed once into a cached virtual environment.
//!
//! # Global state (one per process)
//!
//! - The interpreter and the `_faastlane` bootstrap module, with its module cache keyed by
//!   (workflow directory, module) and the `sys.stdout`/`sys.stderr` replacements
//!   ([`interpreter`]).
//! - `sys.path`: every runtime puts its directory first (and its virtual environment's
//!   site-packages right after) when it is created and again when it imports a module.
//! - The watchdog thread and its table of armed calls, started by the first call that has a
//!   deadline ([`watchdog`]).
//! - Per thread: the log sink of the call running on it and its unfinished output lines
//!   (`output.rs`), empty between calls.
//! - The working directory, only with [`PythonOptions::chdir`].
//!
//! # Threads
//!
//! Calls run on the calling thread and take turns on the GIL. Call [`init`] early on the
//! process's main thread (the thread that starts the interpreter keeps its Python thread
//! state; other threads keep theirs from their first call until they exit). Give threads that
//! run Python a stack of 8 MiB or more, as Python's main thread has.
//!
//! # Forking
//!
//! [`init`] and [`PythonRuntime::with_options`] followed by [`engine::Runtime::prepare`]
//! start the interpreter and import every module without starting any thread (unless a
//! user's module starts one when imported), so a single-threaded process can do them and
//! then fork warm children. The child must call CPython's `PyOS_AfterFork_Child()` before
//! running Python ([`around_fork`] wraps a `fork()` in the hooks); a parent that already made
//! calls with a deadline has a watchdog thread, which a child does not inherit (its table may
//! also be mid-update): fork only before. Values cross to such children pickled
//! ([`PickleCodec`], protocol 5 with large buffers out of band, see [`lane`]).
//!
//! # Limits
//!
//! - Modules of the same name in two workflow directories are both imported and cached, but
//!   `sys.modules` (and so a plain `import helper` inside a function) keeps the first one;
//!   helper modules imported by both directories are shared by name.
//! - Output written by C code straight to file descriptors 1 and 2, and by threads a
//!   function starts itself, is not captured per call (the latter goes to stderr).
//! - A function that mutates its input changes no other state's data: where the engine
//!   hands a value out while keeping it (sibling branches given the same input, `ResultPath`
//!   keeping the input, Retry, Catch, `ItemSelector`) it gives a copy ([`asl::Value::detach`];
//!   dicts and lists are copied, immutable leaves such as a large `bytes` shared), as Step
//!   Functions gives every function its own input. Only a plain Task-to-Task chain hands the
//!   next function the very object the previous one returned.
//! - `os._exit()` and crashes in C extensions end the process.

mod check;
pub mod context;
mod convert;
mod copy;
pub mod discovery;
pub mod domains;
pub mod error;
mod failure;
mod ffi;
pub mod fork_server;
mod handle;
pub mod interpreter;
pub mod lane;
mod module_tables;
mod output;
mod runtime;
mod shared_copy;
pub mod venv;
pub mod watchdog;

pub use check::{FunctionProblem, check_functions};
/// Import-time output goes here by default; kept under this name for existing users.
pub use engine::StderrLog;
pub use error::{PythonError, RequirementsError};
pub use handle::PyHandle;
pub use interpreter::{InterpreterInfo, SIGNATURE_SOURCE, init};
pub use lane::{PickleCodec, around_fork};
pub use runtime::{
    BUNDLED_VIRTUALENV, DEFAULT_MEMORY_MB, PythonOptions, PythonRuntime, export_environment,
};
pub use venv::{Environment, PipNetwork};
