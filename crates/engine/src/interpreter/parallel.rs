//! The Parallel state: every branch gets the effective input (each its own copy when the
//! input is shared), the branches run through `crate::branches` on the lane the planner
//! picks, and their results, in branch order, are the state's result.
//!
//! [`Exec::parallel_attempt`] is one attempt; `mod.rs` runs it under the state's Retry and
//! Catch (`retry.rs`).

use asl::model::State;
use asl::{StatesError, Value};

use super::input_output::detach;
use super::{Entered, Exec, Frame};
use crate::branches::{Machines, StateBranches};
use crate::history::EventType;

impl Exec<'_> {
    pub(super) fn parallel_attempt(
        &self,
        state: &State,
        par: &asl::model::ParallelState,
        raw: Value,
        frame: &Frame<'_>,
        entered: &Entered,
        retries: u32,
    ) -> Result<Value, StatesError> {
        let (ctx, raw_copy, effective) = self.begin(state, raw, entered, retries)?;
        let effective = self.apply_parameters(state, effective, &ctx, entered)?;
        // Every branch gets its own copy, made when the branch starts, on the lane that runs
        // it (a worker process copies from its own decoded input), unless a single branch is
        // the only holder of the input.
        let n = par.branches.len();
        let shared = n > 1 || Self::retains_raw(state, &par.retry, &par.catch);
        // Every branch's first state would measure its copy of the input: measured once here
        // for all of them (FINRA-200: 200 walks of a 113 KB Python object per execution).
        let measured = shared && self.payload_within(&effective);
        let inputs = vec![effective; n];
        self.emit(frame, EventType::ParallelStateStarted, || None);
        let outer = entered.vars.clone();
        let results = crate::branches::run_branches(
            StateBranches {
                exec: self,
                state,
                frame,
                machines: Machines::Parallel(&par.branches),
                resume: &|m, c, e, raw, err, f| self.resume_machine(m, c, e, raw, err, f),
                outer: &outer,
            },
            inputs,
            0,
            |i, input, f| {
                let input = if shared { detach(input)? } else { input };
                self.run_machine_in(&par.branches[i], input, f, outer.clone(), measured)
            },
        );
        self.join(frame);
        let ended = match results {
            Ok(_) => EventType::ParallelStateSucceeded,
            Err(_) => EventType::ParallelStateFailed,
        };
        self.emit(frame, ended, || None);
        let results = results?;
        let result = Value::from_elements(results);
        self.finish(state, raw_copy, result, &ctx, entered)
    }
}
