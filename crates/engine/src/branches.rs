//! Running the branches of a Parallel state and the iterations of a Map state.
//!
//! Branches run inline (one after the other) or on a bounded set of scoped threads that pull
//! work from a shared queue; the calling thread is one of them. Results keep branch order.
//! When a branch fails (and failures are not tolerated) its siblings are cancelled and the
//! first failure becomes the state's error, as in Step Functions.

use std::collections::VecDeque;
use std::sync::Mutex;

use asl::model::State;
use asl::{StatesError, Value};

use crate::engine::BranchLanes;
use crate::interpreter::{Exec, Frame};
use crate::trace::{Lane, LaneDecision};

/// Names the threads branches run on, so the trace can tell lanes apart.
pub(crate) const BRANCH_THREAD_NAME: &str = "faastlane-branch";

/// Stack size of branch threads: the main thread's usual 8 MiB.
const BRANCH_STACK_BYTES: usize = 8 << 20;

/// Runs every branch; the first failure fails the whole set.
pub(crate) fn run_branches<F>(
    exec: &Exec<'_>,
    state: &State,
    frame: &Frame<'_>,
    inputs: Vec<Value>,
    max_concurrency: usize,
    fail_fast: bool,
    run: F,
) -> Result<Vec<Value>, StatesError>
where
    F: Fn(usize, Value, &Frame<'_>) -> Result<Value, StatesError> + Sync,
{
    run_branches_tolerant(exec, state, frame, inputs, max_concurrency, fail_fast, run)?
        .into_iter()
        .collect()
}

/// Runs every branch. With `fail_fast`, the first failure cancels the rest and is returned
/// as the error; without it every branch runs and each outcome is returned.
pub(crate) fn run_branches_tolerant<F>(
    exec: &Exec<'_>,
    state: &State,
    frame: &Frame<'_>,
    inputs: Vec<Value>,
    max_concurrency: usize,
    fail_fast: bool,
    run: F,
) -> Result<Vec<Result<Value, StatesError>>, StatesError>
where
    F: Fn(usize, Value, &Frame<'_>) -> Result<Value, StatesError> + Sync,
{
    let n = inputs.len();
    let limit = if max_concurrency == 0 {
        usize::MAX
    } else {
        max_concurrency
    };
    let workers = match exec.engine.options.lanes {
        BranchLanes::Inline => 1,
        BranchLanes::Threads(t) => t.max(1).min(n.max(1)).min(limit),
    };
    exec.trace.record_lane(LaneDecision {
        state: format!("{}{}", frame.prefix, state.name),
        branches: n,
        lane: if workers > 1 {
            Lane::Thread
        } else {
            Lane::Inline
        },
        concurrency: workers,
        reason: match exec.engine.options.lanes {
            BranchLanes::Inline => "lanes: inline".to_string(),
            BranchLanes::Threads(t) => {
                format!("{t} thread lane(s), {n} branch(es), MaxConcurrency {max_concurrency}")
            }
        },
    });

    let cancel = frame.cancel.child();
    let queue: Mutex<VecDeque<(usize, Value)>> =
        Mutex::new(inputs.into_iter().enumerate().collect());
    let slots: Mutex<Vec<Option<Result<Value, StatesError>>>> =
        Mutex::new((0..n).map(|_| None).collect());
    let first_failure: Mutex<Option<StatesError>> = Mutex::new(None);

    let worker = || {
        loop {
            if fail_fast && cancel.is_cancelled() {
                break;
            }
            let next = lock(&queue).pop_front();
            let Some((index, input)) = next else { break };
            let branch_frame = Frame {
                cancel: &cancel,
                prefix: format!("{}{}/{index}/", frame.prefix, state.name),
            };
            let outcome = run(index, input, &branch_frame);
            if let Err(e) = &outcome
                && fail_fast
            {
                let mut first = lock(&first_failure);
                if first.is_none() && e.error != "States.Cancelled" {
                    *first = Some(e.clone());
                }
                cancel.cancel();
            }
            lock(&slots)[index] = Some(outcome);
        }
    };

    if workers <= 1 {
        worker();
    } else {
        std::thread::scope(|scope| {
            for _ in 1..workers {
                let spawned = std::thread::Builder::new()
                    .name(BRANCH_THREAD_NAME.to_string())
                    // Function runtimes recurse deeply (CPython's default recursion limit
                    // needs more than Rust's 2 MiB default).
                    .stack_size(BRANCH_STACK_BYTES)
                    .spawn_scoped(scope, worker);
                if spawned.is_err() {
                    // Could not get another thread: the ones we have drain the queue.
                    break;
                }
            }
            worker();
        });
    }

    if let Some(e) = first_failure
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
    {
        return Err(e);
    }
    if frame.cancel.is_cancelled() {
        return Err(StatesError::new(
            "States.Cancelled",
            "a sibling branch failed",
        ));
    }
    let slots = slots.into_inner().unwrap_or_else(|p| p.into_inner());
    slots
        .into_iter()
        .enumerate()
        .map(|(i, slot)| {
            slot.ok_or_else(|| {
                StatesError::runtime(format!("branch {i} of state '{}' did not run", state.name))
            })
        })
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
