//! Running the branches of a Parallel state and the iterations of a Map state.
//!
//! The planner (`planner.rs`) picks a lane per state and the decision goes into the trace.
//! Branches then run from one shared queue: the calling thread takes its share inline, except
//! under forced process lanes (`--lanes process`), where every branch goes to a worker so a
//! crash or a blocked Task is contained; a thread lane adds scoped threads, a process lane
//! adds worker processes (each fed by a
//! dispatcher thread of this process that only moves bytes, so it never competes for a
//! runtime's global lock, except to finish a branch whose worker was killed at a Task's
//! deadline: from the Task's checkpoint, with its Retry and Catch). Results keep branch
//! order. When a branch fails (and failures are not tolerated) its siblings are cancelled,
//! worker processes killed, and the first failure becomes the state's error, as in Step
//! Functions.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use asl::model::{State, StateMachine};
use asl::{StatesError, Value};

use crate::codec::{CodecError, Payload};
use crate::exec::{Exec, Frame};
use crate::interpreter::Vars;
use crate::lanes::{LaneError, NotReady, ProcessPool, ProcessWorker, WorkerRun};
use crate::planner::{BranchLanes, NoPool, Plan, PlanInput, plan, plan_remote};
use crate::runtime::CancelToken;
use crate::trace::{Lane, LaneDecision, StateRecord};
use crate::wire::{BranchJob, ExecutionWire, History, Resume, RunRequest, TaskCheckpoint};

/// Names the threads branches run on (for a debugger or `top`; the trace takes a branch's
/// lane from its frame).
pub(crate) const BRANCH_THREAD_NAME: &str = "faastlane-branch";

/// Names the threads that feed worker processes.
const DISPATCH_THREAD_NAME: &str = "faastlane-lane";

/// Stack size of branch threads: the main thread's usual 8 MiB.
const BRANCH_STACK_BYTES: usize = 8 << 20;

/// The state machines the branches run.
#[derive(Clone, Copy)]
pub(crate) enum Machines<'m> {
    /// One machine per branch, all given the same input.
    Parallel(&'m [StateMachine]),
    /// One machine for every item.
    Map(&'m StateMachine),
}

/// Continues a branch from a Task whose worker process was killed at its deadline: the
/// interpreter's `Exec::resume_machine` (machine, checkpoint, events before the branch, the
/// Task's raw input, its error, the branch's frame).
pub(crate) type Resumer<'a> = &'a (
        dyn Fn(
    &StateMachine,
    &TaskCheckpoint,
    u64,
    Value,
    StatesError,
    &Frame<'_>,
) -> Result<Value, StatesError>
            + Sync
    );

/// The branches of one Parallel or Map state: what every step of running them reads.
#[derive(Clone, Copy)]
pub(crate) struct StateBranches<'a, 'x, 'f> {
    pub(crate) exec: &'a Exec<'x>,
    pub(crate) state: &'a State,
    /// The frame the state runs in (its branches get frames of their own).
    pub(crate) frame: &'a Frame<'f>,
    pub(crate) machines: Machines<'a>,
    pub(crate) resume: Resumer<'a>,
    /// The workflow variables every branch starts with.
    pub(crate) outer: &'a Vars,
}

/// Runs every branch; the first failure fails the whole set.
pub(crate) fn run_branches<F>(
    branches: StateBranches<'_, '_, '_>,
    inputs: Vec<Value>,
    max_concurrency: usize,
    run: F,
) -> Result<Vec<Value>, StatesError>
where
    F: Fn(usize, Value, &Frame<'_>) -> Result<Value, StatesError> + Sync,
{
    run_branches_tolerant(branches, inputs, max_concurrency, true, run)?
        .into_iter()
        .collect()
}

/// A branch's result: a value, or the encoded value a worker process sent back.
pub(crate) enum Slot {
    Done(Result<Value, StatesError>),
    Encoded(Payload),
}

/// What the lanes of one state share.
pub(crate) struct Shared {
    pub(crate) queue: Mutex<VecDeque<(usize, Value)>>,
    slots: Mutex<Vec<Option<Slot>>>,
    first_failure: Mutex<Option<StatesError>>,
    pub(crate) cancel: CancelToken,
    fail_fast: bool,
}

impl Shared {
    fn pop(&self) -> Option<(usize, Value)> {
        if self.fail_fast && self.cancel.is_cancelled() {
            return None;
        }
        lock(&self.queue).pop_front()
    }

    pub(crate) fn finish(&self, index: usize, slot: Slot) {
        if let Slot::Done(Err(e)) = &slot
            && self.fail_fast
        {
            let mut first = lock(&self.first_failure);
            if first.is_none() && e.error != "States.Cancelled" {
                *first = Some(e.clone());
            }
            self.cancel.cancel();
        }
        lock(&self.slots)[index] = Some(slot);
    }
}

/// Runs every branch. With `fail_fast`, the first failure cancels the rest and is returned
/// as the error; without it every branch runs and each outcome is returned.
pub(crate) fn run_branches_tolerant<F>(
    branches: StateBranches<'_, '_, '_>,
    inputs: Vec<Value>,
    max_concurrency: usize,
    fail_fast: bool,
    run: F,
) -> Result<Vec<Result<Value, StatesError>>, StatesError>
where
    F: Fn(usize, Value, &Frame<'_>) -> Result<Value, StatesError> + Sync,
{
    let StateBranches {
        exec,
        state,
        frame,
        machines,
        ..
    } = branches;
    let n = inputs.len();
    let options = &exec.engine.options;
    let state_path = format!("{}{}", frame.prefix, state.name);
    // A recorded history is delivered from this process, as it happens: its branches stay
    // here (worker processes only count their events).
    let pool = options
        .processes
        .as_deref()
        .filter(|_| exec.history.is_none());
    // Forced processes take even a single branch (`auto` would run it here: one lane).
    let wants_pool = match options.lanes {
        BranchLanes::Process => n > 0,
        BranchLanes::Auto => n > 1,
        BranchLanes::Inline | BranchLanes::Threads(_) => false,
    };
    let pool_state = match (pool, wants_pool) {
        // Forced processes wait for the pool; auto waits only as long as it pays (below).
        (Some(p), true) if options.lanes == BranchLanes::Process => {
            p.ready(None).map(|()| p.spawn_cost()).map_err(NoPool::from)
        }
        (Some(p), true) => Ok(p.spawn_cost()),
        (None, true) if exec.history.is_some() => Err(NoPool::HistoryHere),
        (None, true) => Err(NoPool::NoneConfigured),
        (_, false) => Err(NoPool::NotNeeded),
    };
    let mut input = PlanInput {
        mode: options.lanes,
        branches: n,
        max_concurrency,
        cpus: options.cpus.max(1),
        pool: pool_state,
        work: estimate(exec, machines, n),
    };
    let shared = Shared {
        queue: Mutex::new(inputs.into_iter().enumerate().collect()),
        slots: Mutex::new((0..n).map(|_| None).collect()),
        first_failure: Mutex::new(None),
        cancel: frame.cancel.child(),
        fail_fast,
    };
    let run_one = |index: usize, input: Value, lane: Lane| {
        let branch_frame = Frame {
            cancel: &shared.cancel,
            prefix: format!("{state_path}/{index}/"),
            checkpoints: None,
            lane,
            // A branch's first event follows its state's `ParallelStateStarted` /
            // `MapStateStarted`.
            last_event: AtomicU64::new(frame.last_event.load(Ordering::Relaxed)),
        };
        run(index, input, &branch_frame)
    };
    // Runs branches from the queue until it is empty, on `lane`.
    let drain = |lane: Lane| {
        while let Some((index, input)) = shared.pop() {
            let outcome = run_one(index, input, lane);
            shared.finish(index, Slot::Done(outcome));
        }
    };
    // The calling thread's share: whatever the queue still holds.
    let local = || drain(frame.lane);

    // Branches beyond this instance's CPUs go to siblings (remote lanes), while the rest is
    // planned here as if the state had only its local share. A recorded history stays here.
    let mut remote_note = None;
    let remote = options.remote.as_ref().filter(|_| exec.history.is_none());
    let mut batches = Vec::new();
    if let Some(lanes) = remote {
        match plan_remote(&input, lanes.cap, exec.engine.remote_costs.current()) {
            Ok(split) => match crate::remote::take_batches(branches, &shared, &split.batches) {
                Ok(taken) => {
                    batches = taken;
                    input.work = input
                        .work
                        .map(|w| w.mul_f64(split.local as f64 / input.branches.max(1) as f64));
                    input.branches = split.local;
                    remote_note = Some(format!("remote: {}", split.reason));
                }
                Err(e) => {
                    tracing::warn!(state = %state_path, "remote lane unavailable: {e}");
                    remote_note = Some(format!("remote: not used, {e}"));
                }
            },
            Err(why) => remote_note = Some(format!("remote: not used, {why}")),
        }
    }
    let here = || {
        let mut input = input;
        let (decided, helpers_started) = run_here(
            branches, &mut input, &shared, &run_one, &drain, &local, pool,
        );
        (input, decided, helpers_started)
    };
    let ((input, mut decided, helpers_started), remote_sent) = match remote {
        Some(lanes) => crate::remote::alongside(branches, lanes, batches, &shared, here),
        None => (here(), Vec::new()),
    };
    if let Some(note) = remote_note {
        decided.reason = format!("{}; {note}", decided.reason);
    }
    exec.trace.record_lane(LaneDecision {
        state: state_path,
        branches: n,
        lane: decided.lane,
        concurrency: decided.concurrency,
        processes: helpers_started,
        cpus: input.cpus,
        estimate_us: input
            .work
            .map(|w| u64::try_from(w.as_micros()).unwrap_or(u64::MAX)),
        reason: decided.reason,
        remote: remote_sent,
    });
    finish_slots(branches, shared)
}

/// Plans and runs this instance's share of a state's branches (all of them without remote
/// lanes): inline, on threads or in worker processes. Returns the plan and how many worker
/// dispatchers ran.
fn run_here<R, D, L>(
    branches: StateBranches<'_, '_, '_>,
    input: &mut PlanInput,
    shared: &Shared,
    run_one: &R,
    drain: &D,
    local: &L,
    pool: Option<&dyn ProcessPool>,
) -> (Plan, usize)
where
    R: Fn(usize, Value, Lane) -> Result<Value, StatesError> + Sync,
    D: Fn(Lane) + Sync,
    L: Fn() + Sync,
{
    let StateBranches {
        exec,
        state,
        frame,
        machines,
        ..
    } = branches;
    let n = input.branches;
    let state_path = format!("{}{}", frame.prefix, state.name);
    let mut decided = plan(input);
    if decided.probe {
        // Time a few branches here (about one worker start's worth, at least one), then plan
        // the rest with what they cost.
        let started = Instant::now();
        let budget = input
            .pool
            .as_ref()
            .map_or(PROBE_BUDGET, |c| (*c).max(PROBE_BUDGET));
        let mut probed = 0usize;
        while probed == 0 || (started.elapsed() < budget && probed < n.div_ceil(8)) {
            let Some((index, value)) = shared.pop() else {
                break;
            };
            let outcome = run_one(index, value, frame.lane);
            shared.finish(index, Slot::Done(outcome));
            probed += 1;
        }
        let took = started.elapsed();
        let mean = took / probed.max(1) as u32;
        input.branches = n.saturating_sub(probed);
        input.work = Some(probed_work(exec, machines, probed, n, mean));
        decided = plan(input);
        decided.reason = format!(
            "{}; after probing {probed} branch(es) inline ({:.3} ms each)",
            decided.reason,
            mean.as_secs_f64() * 1e3
        );
    }
    let mut helpers_started = 0;
    match decided.lane {
        Lane::Inline | Lane::Remote => local(),
        Lane::Thread => threads(&decided, drain, frame.lane),
        Lane::Process => match pool {
            Some(pool) => {
                helpers_started = processes(branches, &decided, shared, pool, local)
                    .unwrap_or_else(|e| {
                        tracing::warn!(state = %state_path, "process lane unavailable: {e}");
                        decided.reason = format!("{}; fell back to inline: {e}", decided.reason);
                        0
                    });
                if helpers_started == 0 {
                    decided.reason = format!("{}; no worker joined before the end", decided.reason);
                }
                // Branches a worker could not take (none started) are left for this thread.
                local();
            }
            None => local(),
        },
    }
    (decided, helpers_started)
}

/// The branches' results in order, or the state's error.
fn finish_slots(
    branches: StateBranches<'_, '_, '_>,
    shared: Shared,
) -> Result<Vec<Result<Value, StatesError>>, StatesError> {
    let StateBranches {
        exec, state, frame, ..
    } = branches;
    let Shared {
        slots,
        first_failure,
        ..
    } = shared;
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
    let codec = exec.engine.runtime.codec();
    slots
        .into_iter()
        .enumerate()
        .map(|(i, slot)| match slot {
            Some(Slot::Done(outcome)) => Ok(outcome),
            Some(Slot::Encoded(payload)) => Ok(codec
                .decode(&payload)
                .and_then(|mut v| {
                    v.pop()
                        .ok_or_else(|| CodecError::Corrupt("no value".into()))
                })
                .map_err(|e| {
                    StatesError::runtime(format!(
                        "cannot read the result of branch {i} of state '{}' from its process: {e}",
                        state.name
                    ))
                })),
            None => Err(StatesError::runtime(format!(
                "branch {i} of state '{}' did not run",
                state.name
            ))),
        })
        .collect()
}

/// The estimated work of all branches, from the functions' running estimates.
fn estimate(exec: &Exec<'_>, machines: Machines<'_>, n: usize) -> Option<Duration> {
    let estimates = &exec.engine.estimates;
    match machines {
        Machines::Parallel(branches) => branches
            .iter()
            .map(|m| estimates.machine(m))
            .sum::<Option<Duration>>(),
        Machines::Map(m) => estimates.machine(m).map(|d| d * n as u32),
    }
}

/// How long `auto` may spend running branches inline to learn what they cost.
const PROBE_BUDGET: Duration = Duration::from_millis(1);

/// The estimated work of the branches not probed, the probed ones having taken `mean` each:
/// the functions' estimates where they are timed now, `mean` for a branch whose functions
/// never ran.
fn probed_work(
    exec: &Exec<'_>,
    machines: Machines<'_>,
    probed: usize,
    n: usize,
    mean: Duration,
) -> Duration {
    let estimates = &exec.engine.estimates;
    match machines {
        Machines::Parallel(branches) => branches
            .iter()
            .skip(probed)
            .map(|m| estimates.machine(m).unwrap_or(mean))
            .sum(),
        Machines::Map(_) => mean * n.saturating_sub(probed) as u32,
    }
}

/// Runs `drain` on the plan's helper threads (their lane: [`Lane::Thread`]) and on this one
/// (`here`, the lane of the caller's frame).
fn threads(decided: &Plan, drain: &(dyn Fn(Lane) + Sync), here: Lane) {
    std::thread::scope(|scope| {
        for _ in 0..decided.helpers {
            let spawned = std::thread::Builder::new()
                .name(BRANCH_THREAD_NAME.to_string())
                // Function runtimes recurse deeply (CPython's default recursion limit
                // needs more than Rust's 2 MiB default).
                .stack_size(BRANCH_STACK_BYTES)
                .spawn_scoped(scope, || drain(Lane::Thread));
            if spawned.is_err() {
                // Could not get another thread: the ones we have drain the queue.
                break;
            }
        }
        drain(here);
    });
}

/// Why a state's branches could not be handed to a process or remote lane (they run here
/// instead).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProcessLaneUnusable {
    #[error(transparent)]
    Lane(#[from] LaneError),
    #[error("cannot encode the branch inputs: {0}")]
    Encode(#[source] CodecError),
    /// A worker finds the state by its position in the workflow: one not found cannot go.
    #[error("state '{0}' is not in the workflow")]
    UnknownState(String),
}

/// The process lane: encodes the inputs once into shared memory, then feeds worker processes
/// from the queue on dispatcher threads while `local` runs the caller's share. Returns how
/// many dispatchers ran.
fn processes(
    branches: StateBranches<'_, '_, '_>,
    decided: &Plan,
    shared: &Shared,
    pool: &dyn ProcessPool,
    local: &(dyn Fn() + Sync),
) -> Result<usize, ProcessLaneUnusable> {
    let StateBranches { exec, machines, .. } = branches;
    let shared_input = matches!(machines, Machines::Parallel(_));
    let payload = {
        let queue = lock(&shared.queue);
        let values: Vec<&Value> = if shared_input {
            queue.front().map(|(_, v)| v).into_iter().collect()
        } else {
            // Indices are in order: a value's position is its index minus the first one's.
            let mut all: Vec<&Value> = Vec::with_capacity(queue.len());
            for (_, v) in queue.iter() {
                all.push(v);
            }
            all
        };
        let mut buffer = pool.payload()?;
        exec.engine
            .runtime
            .codec()
            .encode(&values, buffer.as_mut())
            .map_err(ProcessLaneUnusable::Encode)?;
        buffer.finish()?
    };
    let first_index = lock(&shared.queue).front().map(|(i, _)| *i).unwrap_or(0);
    let job = branch_job(branches, shared_input, first_index)?;
    let log = exec.engine.options.log.as_ref();
    let spawned = AtomicUsize::new(0);
    let dispatch = || {
        // A pool still starting (auto asks it to start only now): the calling thread works
        // meanwhile, and this lane joins when the pool is ready, if branches are left.
        loop {
            match pool.ready(Some(READY_POLL)) {
                Ok(()) => break,
                Err(NotReady::Starting) if !lock(&shared.queue).is_empty() => continue,
                Err(_) => return,
            }
        }
        let mut worker: Option<Box<dyn ProcessWorker>> = None;
        while let Some((index, input)) = shared.pop() {
            if worker.is_none() {
                match pool.spawn(&job, &payload) {
                    Ok(w) => {
                        spawned.fetch_add(1, Ordering::Relaxed);
                        worker = Some(w);
                    }
                    Err(e) => {
                        // Leave the branch to the calling thread.
                        tracing::warn!("cannot start a worker process: {e}");
                        lock(&shared.queue).push_front((index, input));
                        return;
                    }
                }
            }
            drop(input);
            let Some(w) = worker.as_mut() else { return };
            let request = RunRequest {
                index,
                trace_offset_us: exec
                    .trace
                    .enabled()
                    .then(|| exec.trace.offset_us(exec.engine.clock.instant())),
                history: Some(History {
                    events: exec.events.load(Ordering::Relaxed),
                    max_events: exec.max_events,
                }),
            };
            match w.run_with(&request, &shared.cancel, log) {
                WorkerRun::Finished(report) => {
                    absorb(
                        exec,
                        report.events,
                        &report.durations,
                        report.states,
                        Lane::Process,
                    );
                    shared.finish(
                        index,
                        match report.outcome {
                            Ok(payload) => Slot::Encoded(payload),
                            Err(e) => Slot::Done(Err(e)),
                        },
                    );
                }
                WorkerRun::Lost(e) => {
                    worker = None;
                    shared.finish(index, Slot::Done(Err(e)));
                }
                WorkerRun::Interrupted { error, resume } => {
                    // The worker was killed at a Task's deadline: the Task's Retry and Catch,
                    // and the rest of the branch, run here.
                    worker = None;
                    let outcome = resume_here(branches, &request, resume, error, &shared.cancel);
                    shared.finish(index, Slot::Done(outcome));
                }
            }
        }
    };
    let started = decided.helpers;
    std::thread::scope(|scope| {
        for _ in 0..started {
            let spawned = std::thread::Builder::new()
                .name(DISPATCH_THREAD_NAME.to_string())
                .spawn_scoped(scope, dispatch);
            if spawned.is_err() {
                break;
            }
        }
        // The caller's share, while the workers run theirs (when the plan gives it one; the
        // caller of this function runs whatever a worker could not take).
        if decided.concurrency > decided.helpers {
            local();
        }
    });
    Ok(spawned.into_inner())
}

/// What a worker or a sibling needs to run branches of this state: the state, the execution's
/// context, its time left, the trace offset and the variables the branches start with.
pub(crate) fn branch_job(
    branches: StateBranches<'_, '_, '_>,
    shared_input: bool,
    first_index: usize,
) -> Result<BranchJob, ProcessLaneUnusable> {
    let StateBranches {
        exec,
        state,
        frame,
        outer,
        ..
    } = branches;
    let now = exec.engine.clock.instant();
    Ok(BranchJob {
        workflow: exec.workflow.name.clone(),
        state_index: asl::walk::state_index(&exec.workflow.machine, state)
            .ok_or_else(|| ProcessLaneUnusable::UnknownState(state.name.clone()))?,
        state: state.name.clone(),
        prefix: frame.prefix.clone(),
        execution: ExecutionWire {
            arn: exec.info.arn.clone(),
            name: exec.info.name.clone(),
            start_time: exec.info.start_time.clone(),
            input: (*exec.info.input).clone(),
            role_arn: exec.info.role_arn.clone(),
            state_machine_arn: exec.info.state_machine_arn.clone(),
            state_machine_name: exec.info.state_machine_name.clone(),
        },
        deadline_ms: exec
            .deadline
            .map(|d| u64::try_from(d.saturating_duration_since(now).as_millis()).unwrap_or(0)),
        trace_offset_us: exec.trace.enabled().then(|| exec.trace.offset_us(now)),
        shared_input,
        first_index,
        variables: (***outer).clone(),
    })
}

/// What a branch run elsewhere (`lane`) adds to the execution: its history events (as if it
/// had run here), its functions' durations (for the planner) and its state records.
pub(crate) fn absorb(
    exec: &Exec<'_>,
    events: u64,
    durations: &[(String, u64)],
    states: Vec<crate::wire::RemoteRecord>,
    lane: Lane,
) {
    exec.events.fetch_add(events, Ordering::Relaxed);
    for (function, ns) in durations {
        exec.observe(function, Duration::from_nanos(*ns));
    }
    for r in states {
        exec.trace.record_state(StateRecord {
            state: r.state,
            kind: static_kind(&r.kind),
            lane,
            start_us: r.start_us,
            end_us: r.end_us,
            attempts: r.attempts,
            error: r.error,
        });
    }
}

/// Continues, on this thread, branch `request.index`, whose worker was killed at the deadline
/// of the Task `resume` names.
fn resume_here(
    branches: StateBranches<'_, '_, '_>,
    request: &RunRequest,
    resume: Resume,
    error: StatesError,
    cancel: &CancelToken,
) -> Result<Value, StatesError> {
    let StateBranches {
        exec,
        state,
        frame,
        machines,
        ..
    } = branches;
    let index = request.index;
    let machine = match machines {
        Machines::Parallel(branches) => branches.get(index),
        Machines::Map(processor) => Some(processor),
    }
    .ok_or_else(|| StatesError::runtime(format!("state '{}' has no branch {index}", state.name)))?;
    let raw = exec
        .engine
        .runtime
        .codec()
        .decode(&resume.input)
        .and_then(|mut v| v.pop().ok_or_else(|| CodecError::Corrupt("no value".into())))
        .map_err(|e| {
            StatesError::runtime(format!(
                "cannot read the input of Task '{}' in branch {index} of state '{}' from its process: {e}",
                resume.checkpoint.state, state.name
            ))
        })?;
    let branch_frame = Frame {
        cancel,
        prefix: format!("{}{}/{index}/", frame.prefix, state.name),
        checkpoints: None,
        // A dispatcher thread of this process, not one of the branch threads.
        lane: Lane::Inline,
        last_event: AtomicU64::new(frame.last_event.load(Ordering::Relaxed)),
    };
    let events_before = request.history.map_or(0, |h| h.events);
    (branches.resume)(
        machine,
        &resume.checkpoint,
        events_before,
        raw,
        error,
        &branch_frame,
    )
}

/// How often a dispatcher waiting for a starting pool checks whether branches are left.
const READY_POLL: Duration = Duration::from_millis(5);

/// The `&'static str` the trace uses for a state type a child reported.
pub(crate) fn static_kind(kind: &str) -> &'static str {
    const KINDS: [&str; 8] = [
        "Task", "Pass", "Choice", "Parallel", "Map", "Wait", "Succeed", "Fail",
    ];
    KINDS.into_iter().find(|k| *k == kind).unwrap_or("Task")
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
