//! Interrupts a Python function that runs past its Task's deadline.
//!
//! One watchdog thread per process, started by the first call that has a deadline (so a
//! process that only imports modules, such as a fork server, has none). When a deadline
//! passes it takes the GIL and schedules `_faastlane.TaskTimedOut` (a `BaseException`) in the
//! calling thread with `PyThreadState_SetAsyncExc`; CPython raises it at the next bytecode
//! that thread runs. It fires again every [`REFIRE`] while the call is still running, in case
//! the function swallowed it.
//!
//! Firing and disarming both happen with the GIL held, so they are ordered: a call that
//! returns before the watchdog fires is never interrupted, and one that returns after has its
//! pending exception, if not raised yet, cleared before it runs anything else.
//!
//! Limits: the exception is raised between bytecodes. A function blocked in one long C call
//! (`time.sleep(60)`, a socket read without a timeout, a big numpy operation) is interrupted
//! only when that call returns; one holding the GIL in C the whole time delays the watchdog
//! as long.

use std::collections::HashMap;
use std::os::raw::c_ulong;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::{ffi, interpreter};

/// How long after firing the watchdog fires again at a call that is still running.
pub const REFIRE: Duration = Duration::from_millis(500);

struct Entry {
    deadline: Instant,
    thread: c_ulong,
    fired: bool,
}

#[derive(Default)]
struct State {
    entries: HashMap<u64, Entry>,
    next_id: u64,
}

struct Watchdog {
    state: Mutex<State>,
    wake: Condvar,
}

impl Watchdog {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn watchdog() -> &'static Watchdog {
    static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let dog: &'static Watchdog = Box::leak(Box::new(Watchdog {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("faastlane-python-watchdog".into())
            .spawn(move || run(dog))
            .map(drop)
            .unwrap_or_else(|e| {
                // Without the thread deadlines are still reported (the engine checks them
                // after the call returns); functions are just not interrupted.
                tracing::error!("cannot start the python watchdog thread: {e}");
            });
        dog
    })
}

/// A call being watched: disarm it when the function returns.
pub(crate) struct Armed {
    id: u64,
    thread: c_ulong,
}

/// Watches the call running on this thread.
pub(crate) fn arm(py: Python<'_>, deadline: Instant) -> Armed {
    let thread = ffi::current_thread_ident(py);
    let dog = watchdog();
    let mut state = dog.lock();
    let id = state.next_id;
    state.next_id += 1;
    let earliest = state.entries.values().all(|e| deadline < e.deadline);
    state.entries.insert(
        id,
        Entry {
            deadline,
            thread,
            fired: false,
        },
    );
    drop(state);
    if earliest {
        dog.wake.notify_one();
    }
    Armed { id, thread }
}

impl Armed {
    /// Stops watching; returns whether the watchdog fired (the call overran its deadline).
    /// A fired exception the thread has not raised yet is cleared.
    pub(crate) fn disarm(self, py: Python<'_>) -> bool {
        let fired = watchdog()
            .lock()
            .entries
            .remove(&self.id)
            .is_some_and(|e| e.fired);
        if fired {
            ffi::clear_pending_in_thread(py, self.thread);
        }
        fired
    }
}

fn run(dog: &'static Watchdog) {
    loop {
        let due = wait_for_due(dog);
        Python::attach(|py| {
            let Some(exception) = interpreter::bootstrap(py)
                .ok()
                .and_then(|b| b.getattr("TaskTimedOut").ok())
                .map(Bound::unbind)
            else {
                return;
            };
            // GIL first, then the lock: the order `arm` and `disarm` use too.
            let mut state = dog.lock();
            let now = Instant::now();
            for id in due {
                if let Some(entry) = state.entries.get_mut(&id)
                    && entry.deadline <= now
                {
                    ffi::raise_in_thread(py, entry.thread, &exception);
                    entry.fired = true;
                    entry.deadline = now + REFIRE;
                }
            }
        });
    }
}

/// Sleeps until some deadline has passed; returns the ids of the calls that are due.
fn wait_for_due(dog: &Watchdog) -> Vec<u64> {
    let mut state = dog.lock();
    loop {
        let now = Instant::now();
        match state.entries.values().map(|e| e.deadline).min() {
            None => {
                state = dog.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            Some(next) if next > now => {
                state = dog
                    .wake
                    .wait_timeout(state, next - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            Some(_) => {
                return state
                    .entries
                    .iter()
                    .filter(|(_, e)| e.deadline <= now)
                    .map(|(id, _)| *id)
                    .collect();
            }
        }
    }
}
