//! Choosing where the branches of a Parallel or Map state run.
//!
//! Inputs: the CPUs this process may use (the caller measures them: cgroup quota and
//! affinity), the number of branches and `MaxConcurrency`, whether a process pool is ready
//! and what starting a worker costs, and running estimates of what each function costs.
//!
//! With `--lanes auto`: one usable CPU, one branch or `MaxConcurrency` 1 run inline. Otherwise,
//! with `w` lanes (`w - 1` worker processes plus the calling thread), spreading `W` of
//! estimated work saves about `W (1 - 1/w)` and costs a worker start per process plus a
//! per-branch hand-off; processes are used when the saving is at least twice that cost, so
//! a state whose branches are cheaper than forks stays inline. A state whose functions were
//! never timed runs its first branch inline as a probe and is planned with what it measured.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use asl::model::{Invocation, StateKind, StateMachine};

use crate::lanes::NotReady;
pub use crate::remote_costs::{RemoteCost, RemoteCosts};
use crate::trace::Lane;

/// Where Parallel branches and Map iterations run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchLanes {
    /// One after the other on the calling thread.
    Inline,
    /// On up to this many threads at once (the calling thread counts as one).
    Threads(usize),
    /// In worker processes of [`EngineOptions::processes`](crate::EngineOptions::processes) (one per usable CPU but one, at
    /// least one), whatever they cost (for benchmarks); the calling thread takes a share only
    /// when there are more branches than workers.
    Process,
    /// Chosen per state by the planner (`planner.rs`): inline, or processes when the
    /// branches' estimated work pays for them.
    Auto,
}

/// What one branch sent to a worker costs beyond its own work (a message each way and the
/// encoding of a small result), as measured on a 2-vCPU VM; only its order matters.
pub const PER_BRANCH_OVERHEAD: Duration = Duration::from_micros(60);

/// How much the estimated saving must exceed the estimated cost before processes are used.
const MARGIN: u32 = 2;

/// Why branches cannot go to a process pool.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoPool {
    #[error("none configured")]
    NoneConfigured,
    /// The mode or the branch count never uses one (the pool was not asked).
    #[error("not needed")]
    NotNeeded,
    /// The execution records its history here: its branches' events must be too.
    #[error("the history is recorded in this process")]
    HistoryHere,
    #[error(transparent)]
    NotReady(#[from] NotReady),
}

/// The facts a plan is made from.
#[derive(Clone, Debug)]
pub struct PlanInput {
    pub mode: BranchLanes,
    pub branches: usize,
    /// 0: no limit.
    pub max_concurrency: usize,
    /// CPUs this process may use.
    pub cpus: usize,
    /// `Ok(spawn cost)` when a process pool is ready, else why not.
    pub pool: Result<Duration, NoPool>,
    /// Estimated work of all branches together; `None` when some function was never timed.
    pub work: Option<Duration>,
}

/// Where the branches run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub lane: Lane,
    /// Branches running at once (the calling thread included).
    pub concurrency: usize,
    /// Worker processes (process lane) or extra threads (thread lane).
    pub helpers: usize,
    /// Run a few branches inline first, then plan again with their measured cost.
    pub probe: bool,
    pub reason: String,
}

impl Plan {
    fn inline(reason: impl Into<String>) -> Plan {
        Plan {
            lane: Lane::Inline,
            concurrency: 1,
            helpers: 0,
            probe: false,
            reason: reason.into(),
        }
    }
}

/// Decides the lanes of one Parallel or Map state.
pub fn plan(input: &PlanInput) -> Plan {
    let n = input.branches;
    let limit = if input.max_concurrency == 0 {
        usize::MAX
    } else {
        input.max_concurrency
    };
    match input.mode {
        BranchLanes::Inline => Plan::inline("lanes: inline"),
        BranchLanes::Threads(t) => {
            let width = t.max(1).min(n.max(1)).min(limit);
            Plan {
                lane: if width > 1 {
                    Lane::Thread
                } else {
                    Lane::Inline
                },
                concurrency: width,
                helpers: width - 1,
                probe: false,
                reason: format!(
                    "lanes: {t} thread(s); {n} branch(es), MaxConcurrency {}",
                    input.max_concurrency
                ),
            }
        }
        BranchLanes::Process => {
            if let Err(why) = &input.pool {
                return Plan::inline(format!("lanes: process, but no process pool: {why}"));
            }
            if n == 0 {
                return Plan::inline("no branches");
            }
            // Forced: every branch runs in a worker (at least one, even on one CPU), and this
            // thread only dispatches, so a branch that crashes or blocks past its deadline is
            // contained wherever it lands.
            let helpers = input.cpus.max(1).min(n).min(limit.max(1));
            Plan {
                lane: Lane::Process,
                concurrency: helpers,
                helpers,
                probe: false,
                reason: format!(
                    "lanes: process; {helpers} worker process(es) for {n} branch(es) on {} usable CPU(s)",
                    input.cpus
                ),
            }
        }
        BranchLanes::Auto => plan_auto(input, n, limit),
    }
}

fn plan_auto(input: &PlanInput, n: usize, limit: usize) -> Plan {
    let width = input.cpus.max(1).min(n).min(limit);
    if width <= 1 {
        let why = if n <= 1 {
            format!("{n} branch(es)")
        } else if input.cpus <= 1 {
            "1 usable CPU".to_string()
        } else {
            "MaxConcurrency 1".to_string()
        };
        return Plan::inline(format!("auto: inline, {why}"));
    }
    let spawn = match &input.pool {
        Ok(cost) => *cost,
        Err(why) => {
            return Plan::inline(format!("auto: inline, no process pool ({why})"));
        }
    };
    let Some(work) = input.work else {
        return Plan {
            probe: true,
            ..Plan::inline(format!(
                "auto: functions never timed, probing inline ({n} branch(es))"
            ))
        };
    };
    let helpers = width - 1;
    let saving = work.mul_f64(1.0 - 1.0 / width as f64);
    let remote_branches = (n * helpers).div_ceil(width) as u32;
    let cost = spawn * helpers as u32 + PER_BRANCH_OVERHEAD * remote_branches;
    let numbers = format!(
        "estimated work {:.2} ms over {n} branch(es), {width} lane(s) save {:.2} ms, {helpers} worker start(s) at {:.2} ms + hand-offs cost {:.2} ms",
        ms(work),
        ms(saving),
        ms(spawn),
        ms(cost)
    );
    if saving >= cost * MARGIN {
        Plan {
            lane: Lane::Process,
            concurrency: width,
            helpers,
            probe: false,
            reason: format!("auto: process; {numbers}"),
        }
    } else {
        Plan::inline(format!("auto: inline; {numbers}"))
    }
}

/// How a Parallel or Map state's branches split between this instance and its siblings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteSplit {
    /// Branches kept here (the first ones, in order); the rest go to siblings.
    pub local: usize,
    /// Requests to siblings, each a contiguous run of the remaining branches.
    pub batches: Vec<std::ops::Range<usize>>,
    pub reason: String,
}

/// Decides whether a state's branches want more concurrency than this instance's usable CPUs
/// and, if so, how many go to siblings: `w = min(branches, MaxConcurrency)` branches want to
/// run at once; past `cpus`, up to `cap` requests take a share each (so that every lane,
/// here or remote, gets about as many branches). When the branches' work is known and the
/// saving would not pay twice for the requests, everything stays here. `Err`: why not.
pub fn plan_remote(input: &PlanInput, cap: usize, cost: RemoteCost) -> Result<RemoteSplit, String> {
    let n = input.branches;
    if matches!(input.mode, BranchLanes::Inline | BranchLanes::Threads(_)) {
        return Err("remote lanes are used under --lanes auto or process".to_string());
    }
    let limit = if input.max_concurrency == 0 {
        usize::MAX
    } else {
        input.max_concurrency
    };
    let cpus = input.cpus.max(1);
    let wanted = n.min(limit);
    if wanted <= cpus {
        return Err(format!(
            "{wanted} branch(es) at once fit {cpus} usable CPU(s)"
        ));
    }
    let most = cap.min(wanted - cpus);
    if most == 0 {
        return Err("the remote cap is 0".to_string());
    }
    let model = format!(
        "requests cost {:.2} ms + {:.3} ms/branch ({})",
        ms(cost.per_request),
        ms(cost.per_branch),
        if cost.samples == 0 {
            "prior".to_string()
        } else {
            format!("{} round trip(s)", cost.samples)
        }
    );
    let siblings = match input.work {
        None => most,
        Some(work) => {
            // The sibling count with the shortest predicted makespan, if it beats staying
            // here by twice the requests' overhead.
            let here = work.div_f64(cpus as f64);
            let branch = work.div_f64(n.max(1) as f64);
            let best = (1..=most)
                .map(|s| {
                    let local = n * cpus / (cpus + s);
                    let k = (n - local).div_ceil(s);
                    let overhead = cost.batch(k);
                    let span = (branch * local as u32)
                        .div_f64(cpus as f64)
                        .max(branch * k as u32 + overhead);
                    (s, span, overhead)
                })
                .min_by_key(|&(_, span, _)| span);
            match best {
                Some((s, span, overhead)) if here.saturating_sub(span) >= overhead * MARGIN => s,
                Some((s, span, _)) => {
                    return Err(format!(
                        "estimated work {:.2} ms: {:.2} ms here beats {:.2} ms with {s} sibling request(s); {model}",
                        ms(work),
                        ms(here),
                        ms(span)
                    ));
                }
                None => return Err("no sibling request to plan".to_string()),
            }
        }
    };
    let lanes = cpus + siblings;
    let local = n * cpus / lanes;
    let mut reason = format!(
        "{wanted} branch(es) want to run at once on {cpus} usable CPU(s): {} to {siblings} sibling request(s), {local} here",
        n - local
    );
    if let Some(work) = input.work {
        reason = format!("{reason}; estimated work {:.2} ms; {model}", ms(work));
    }
    let remote = n - local;
    let batches = (0..siblings)
        .map(|b| local + remote * b / siblings..local + remote * (b + 1) / siblings)
        .filter(|r| !r.is_empty())
        .collect();
    Ok(RemoteSplit {
        local,
        batches,
        reason,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Running estimates of what each function costs, shared by every execution of an engine.
#[derive(Debug, Default)]
pub struct Estimates {
    by_function: Mutex<HashMap<String, Estimate>>,
}

#[derive(Clone, Copy, Debug)]
struct Estimate {
    mean_ns: f64,
    samples: u64,
}

/// Weight of a new sample once a function has a few: recent runs matter more.
const SMOOTHING: f64 = 0.2;

impl Estimates {
    pub fn record(&self, function: &str, took: Duration) {
        let ns = took.as_nanos() as f64;
        let mut map = self.by_function.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(function) {
            Some(e) => {
                e.samples += 1;
                // A plain mean for the first samples, then an exponential moving average.
                let weight = (1.0 / e.samples as f64).max(SMOOTHING);
                e.mean_ns += (ns - e.mean_ns) * weight;
            }
            None => {
                map.insert(
                    function.to_owned(),
                    Estimate {
                        mean_ns: ns,
                        samples: 1,
                    },
                );
            }
        }
    }

    pub fn get(&self, function: &str) -> Option<Duration> {
        self.by_function
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(function)
            .map(|e| Duration::from_nanos(e.mean_ns.max(0.0) as u64))
    }

    /// The estimated cost of one run of `machine`: the sum over its Task states (an upper
    /// bound when a Choice skips some); `None` if a function was never timed.
    pub fn machine(&self, machine: &StateMachine) -> Option<Duration> {
        let mut total = Duration::ZERO;
        for state in machine.states.values() {
            total += match &state.kind {
                StateKind::Task(task) => match &task.resource.invocation {
                    Invocation::Direct { function, .. } => self.get(function)?,
                    Invocation::LambdaInvoke => {
                        let name = asl::walk::task_function(state)?;
                        self.get(&name)?
                    }
                },
                StateKind::Parallel(par) => {
                    let mut sum = Duration::ZERO;
                    for b in &par.branches {
                        sum += self.machine(b)?;
                    }
                    sum
                }
                // The item count is not known statically: one iteration.
                StateKind::Map(map) => self.machine(&map.processor)?,
                _ => Duration::ZERO,
            };
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: RemoteCost = RemoteCost::PRIOR;

    fn input(mode: BranchLanes, n: usize, work_ms: Option<u64>) -> PlanInput {
        PlanInput {
            mode,
            branches: n,
            max_concurrency: 0,
            cpus: 2,
            pool: Ok(Duration::from_millis(1)),
            work: work_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn cheap_branches_stay_inline() {
        let p = plan(&input(BranchLanes::Auto, 100, Some(2)));
        assert_eq!(p.lane, Lane::Inline, "{}", p.reason);
    }

    #[test]
    fn heavy_branches_use_one_worker_per_spare_cpu() {
        let p = plan(&input(BranchLanes::Auto, 100, Some(400)));
        assert_eq!((p.lane, p.helpers, p.concurrency), (Lane::Process, 1, 2));
        let mut four = input(BranchLanes::Auto, 100, Some(400));
        four.cpus = 4;
        assert_eq!(plan(&four).helpers, 3);
    }

    #[test]
    fn one_cpu_one_branch_or_max_concurrency_one_is_inline() {
        let mut one_cpu = input(BranchLanes::Auto, 100, Some(400));
        one_cpu.cpus = 1;
        assert_eq!(plan(&one_cpu).lane, Lane::Inline);
        assert_eq!(
            plan(&input(BranchLanes::Auto, 1, Some(400))).lane,
            Lane::Inline
        );
        let mut mc = input(BranchLanes::Auto, 100, Some(400));
        mc.max_concurrency = 1;
        assert_eq!(plan(&mc).lane, Lane::Inline);
    }

    #[test]
    fn max_concurrency_caps_the_workers() {
        let mut i = input(BranchLanes::Auto, 100, Some(4000));
        i.cpus = 8;
        i.max_concurrency = 3;
        let p = plan(&i);
        assert_eq!((p.helpers, p.concurrency), (2, 3));
    }

    #[test]
    fn unknown_costs_probe() {
        let p = plan(&input(BranchLanes::Auto, 10, None));
        assert!(p.probe);
        assert_eq!(p.lane, Lane::Inline);
    }

    #[test]
    fn without_a_pool_auto_is_inline_and_process_says_why() {
        let mut i = input(BranchLanes::Auto, 10, Some(400));
        i.pool = Err(NoPool::NotReady(NotReady::Failed("not started".into())));
        assert_eq!(plan(&i).lane, Lane::Inline);
        i.mode = BranchLanes::Process;
        let p = plan(&i);
        assert_eq!(p.lane, Lane::Inline);
        assert!(p.reason.contains("not started"));
    }

    #[test]
    fn forced_process_uses_a_worker_even_on_one_cpu() {
        let mut i = input(BranchLanes::Process, 5, Some(0));
        i.cpus = 1;
        let p = plan(&i);
        assert_eq!((p.lane, p.helpers, p.concurrency), (Lane::Process, 1, 1));
    }

    #[test]
    fn forced_process_leaves_no_branch_to_this_thread() {
        for (branches, cpus, max_concurrency, workers) in
            [(10, 2, 0, 2), (10, 4, 0, 4), (3, 8, 0, 3), (10, 4, 1, 1)]
        {
            let mut i = input(BranchLanes::Process, branches, Some(0));
            i.cpus = cpus;
            i.max_concurrency = max_concurrency;
            let p = plan(&i);
            assert_eq!(
                (p.lane, p.helpers, p.concurrency),
                (Lane::Process, workers, workers),
                "{branches} branches, {cpus} cpus, MaxConcurrency {max_concurrency}"
            );
            assert!(!p.reason.contains("this thread"), "{}", p.reason);
        }
    }

    #[test]
    fn a_single_forced_branch_runs_in_a_worker_not_on_this_thread() {
        let p = plan(&input(BranchLanes::Process, 1, Some(0)));
        assert_eq!((p.lane, p.helpers, p.concurrency), (Lane::Process, 1, 1));
        assert!(!p.reason.contains("this thread"), "{}", p.reason);
    }

    #[test]
    fn remote_lanes_take_what_exceeds_the_cpus() {
        let mut i = input(BranchLanes::Auto, 200, None);
        i.cpus = 1;
        let split = plan_remote(&i, 2, P).expect("remote");
        assert_eq!(split.local, 66);
        assert_eq!(split.batches, vec![66..133, 133..200]);
        // Every branch once: here or in exactly one batch.
        let sent: usize = split.batches.iter().map(|r| r.len()).sum();
        assert_eq!(split.local + sent, 200);
    }

    #[test]
    fn remote_lanes_respect_max_concurrency_the_cap_and_the_mode() {
        let mut i = input(BranchLanes::Auto, 10, None);
        i.cpus = 1;
        i.max_concurrency = 2;
        assert_eq!(plan_remote(&i, 8, P).expect("remote").batches.len(), 1);
        i.max_concurrency = 1;
        assert!(plan_remote(&i, 8, P).is_err());
        i.max_concurrency = 0;
        assert!(plan_remote(&i, 0, P).is_err());
        i.mode = BranchLanes::Inline;
        assert!(plan_remote(&i, 8, P).is_err());
        let fits = input(BranchLanes::Auto, 2, None);
        assert!(
            plan_remote(&fits, 8, P)
                .unwrap_err()
                .contains("fit 2 usable CPU")
        );
    }

    #[test]
    fn cheap_branches_stay_off_remote_lanes() {
        let mut i = input(BranchLanes::Auto, 100, Some(1));
        i.cpus = 1;
        assert!(plan_remote(&i, 4, P).is_err());
        i.work = Some(Duration::from_secs(2));
        assert_eq!(plan_remote(&i, 4, P).expect("remote").batches.len(), 4);
    }

    #[test]
    fn learned_round_trips_keep_a_losing_split_here() {
        // FINRA-200 as measured: ~190 ms of work, 1 CPU, and siblings that answered a batch
        // of 100 branches ~350 ms after its functions' time.
        let mut i = input(BranchLanes::Auto, 200, Some(190));
        i.cpus = 1;
        assert!(plan_remote(&i, 3, P).is_ok());
        let costs = RemoteCosts::default();
        costs.record(100, Duration::from_millis(450), Duration::from_millis(100));
        let why = plan_remote(&i, 3, costs.current()).unwrap_err();
        assert!(why.contains("here beats"), "{why}");
        assert!(why.contains("1 round trip(s)"), "{why}");
    }

    #[test]
    fn cheap_learned_round_trips_keep_heavy_branches_remote() {
        let mut i = input(BranchLanes::Auto, 100, Some(2000));
        i.cpus = 1;
        let costs = RemoteCosts::default();
        costs.record(50, Duration::from_millis(1005), Duration::from_millis(1000));
        costs.record(25, Duration::from_millis(505), Duration::from_millis(500));
        let split = plan_remote(&i, 3, costs.current()).expect("remote");
        assert_eq!(split.batches.len(), 3);
        assert!(split.reason.contains("2 round trip(s)"), "{}", split.reason);
    }

    #[test]
    fn fewer_branches_than_batches_make_no_empty_batch() {
        let mut i = input(BranchLanes::Process, 3, None);
        i.cpus = 1;
        let split = plan_remote(&i, 8, P).expect("remote");
        assert_eq!(split.local, 1);
        assert_eq!(split.batches, vec![1..2, 2..3]);
    }

    #[test]
    fn estimates_average_then_smooth() {
        let e = Estimates::default();
        assert_eq!(e.get("f"), None);
        e.record("f", Duration::from_millis(2));
        e.record("f", Duration::from_millis(4));
        assert_eq!(e.get("f"), Some(Duration::from_millis(3)));
    }
}
