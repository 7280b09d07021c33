//! The Map state: ItemsPath, ItemSelector per item (with the item in the context object),
//! MaxConcurrency, the iterations run through `crate::branches`, and the tolerated failure
//! count and percentage that decide whether failed items fail the state.
//!
//! [`Exec::map_attempt`] is one attempt; `mod.rs` runs it under the state's Retry and Catch
//! (`retry.rs`).

use asl::model::{NumberOrPath, State};
use asl::path::Root;
use asl::{StatesError, Value, names};
use serde_json::json;

use super::input_output::{detach, state_failure};
use super::jsonata::{States, unexpected_type};
use super::{Entered, Exec, Frame, Vars};
use crate::branches::{Machines, StateBranches};
use crate::context::MapItem;
use crate::history::{EventDetails, EventType, MapIteration, MapStateStarted};

impl Exec<'_> {
    pub(super) fn map_attempt(
        &self,
        state: &State,
        map: &asl::model::MapState,
        raw: Value,
        frame: &Frame<'_>,
        entered: &Entered,
        retries: u32,
    ) -> Result<Value, StatesError> {
        let (ctx, raw_copy, effective) = self.begin(state, raw, entered, retries)?;
        let effective = self.apply_parameters(state, effective, &ctx, entered)?;
        let jsonata = state.jsonata.as_deref();
        let items = match (jsonata, jsonata.and_then(|j| j.items.as_ref())) {
            (_, Some(t)) => {
                let states = States::input(&effective, &ctx);
                let items = self.query_value(state, entered, t, "Items", &states)?;
                if items.kind() != asl::Kind::Array {
                    let json = items.to_json().unwrap_or_default();
                    return Err(unexpected_type(state, entered, t, "Items", "array", &json));
                }
                items
            }
            (Some(_), None) => effective.clone(),
            (None, None) => match map.items_path.root() {
                Root::Context => map.items_path.select(&ctx),
                Root::Input => map.items_path.select(&effective),
            }
            .map_err(|e| state_failure(state, entered, e))?,
        };
        let kind = items.kind();
        let Some(items) = items.into_elements() else {
            return Err(state_failure(
                state,
                entered,
                format!(
                    "Invalid path '{}' : the Map state '{}' expected an array of items but found {}",
                    map.items_path,
                    state.name,
                    kind.name()
                ),
            ));
        };
        if let Some(max) = self.engine.options.limits.map_items
            && items.len() > max
        {
            return Err(StatesError::runtime(format!(
                "the Map state '{}' has {} items, more than the limit of {max}",
                state.name,
                items.len()
            )));
        }
        let max_concurrency = match jsonata.and_then(|j| j.max_concurrency.as_ref()) {
            Some(t) => {
                let states = States::input(&effective, &ctx);
                self.query_count(state, entered, t, "MaxConcurrency", &states)?
            }
            None => self.read_seconds(
                &map.max_concurrency,
                &effective,
                &ctx,
                "MaxConcurrencyPath",
                state,
                entered,
            )?,
        };
        let max_concurrency = usize::try_from(max_concurrency).unwrap_or(usize::MAX);
        let selector = jsonata.and_then(|j| j.item_selector.as_ref());
        // An ItemSelector can put the same object into every item's input.
        let detach_items = map.item_selector.is_some()
            || selector.is_some()
            || Self::retains_raw(state, &map.retry, &map.catch);
        let mut inputs = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let item_ctx = || {
                self.context(
                    state,
                    entered,
                    retries,
                    Some(MapItem {
                        index,
                        value: &item,
                    }),
                )
            };
            let input = match (&map.item_selector, selector) {
                (_, Some(t)) => {
                    let item_ctx = item_ctx();
                    let states = States::input(&effective, &item_ctx);
                    self.query_value(state, entered, t, "ItemSelector", &states)?
                }
                (Some(t), None) => {
                    self.eval_template(state, t, &effective, &item_ctx(), entered)?
                }
                (None, None) => item,
            };
            inputs.push(if detach_items { detach(input)? } else { input });
        }
        let tolerated_count = match (
            jsonata.and_then(|j| j.tolerated_failure_count.as_ref()),
            &map.tolerated_failure_count,
            &map.tolerated_failure_count_path,
        ) {
            (Some(t), _, _) => {
                let states = States::input(&effective, &ctx);
                Some(self.query_count(state, entered, t, "ToleratedFailureCount", &states)?)
            }
            (None, Some(n), _) => Some(*n),
            (None, None, Some(p)) => Some(self.read_seconds(
                &NumberOrPath::Path(p.clone()),
                &effective,
                &ctx,
                "ToleratedFailureCountPath",
                state,
                entered,
            )?),
            (None, None, None) => None,
        };
        let tolerated_pct = match (
            jsonata.and_then(|j| j.tolerated_failure_percentage.as_ref()),
            &map.tolerated_failure_percentage,
            &map.tolerated_failure_percentage_path,
        ) {
            (Some(t), _, _) => {
                let states = States::input(&effective, &ctx);
                let read = |v: &serde_json::Value| v.as_f64().filter(|n| (0.0..=100.0).contains(n));
                let field = (t, "ToleratedFailurePercentage");
                let expected = "number from 0 to 100";
                Some(self.query_as(state, entered, field, &states, expected, read)?)
            }
            (None, Some(n), _) => Some(*n),
            (None, None, Some(p)) => {
                Some(self.read_percentage(p, &effective, &ctx, state, entered)?)
            }
            (None, None, None) => None,
        };
        let outer = entered.vars.clone();
        let tolerate = tolerated_count.is_some() || tolerated_pct.is_some();
        let total = inputs.len();
        self.emit(frame, EventType::MapStateStarted, || {
            Some(EventDetails::MapStateStarted(MapStateStarted {
                length: total as u64,
            }))
        });
        let results = crate::branches::run_branches_tolerant(
            StateBranches {
                exec: self,
                state,
                frame,
                machines: Machines::Map(&map.processor),
                resume: &|m, c, e, raw, err, f| self.resume_machine(m, c, e, raw, err, f),
                outer: &outer,
            },
            inputs,
            max_concurrency,
            !tolerate,
            |index, input, f| self.map_iteration(state, map, index, input, f, outer.clone()),
        );
        let results = match results {
            Ok(r) => r,
            Err(e) => {
                self.join(frame);
                self.emit(frame, EventType::MapStateFailed, || None);
                return Err(e);
            }
        };
        let failed = results.iter().filter(|r| r.is_err()).count();
        // Either threshold, when given, fails the Map once it is exceeded.
        let over_count = tolerated_count.is_some_and(|c| failed as u64 > c);
        let over_pct =
            tolerated_pct.is_some_and(|p| (failed as f64) * 100.0 / (total.max(1) as f64) > p);
        let exceeded = failed > 0 && (over_count || over_pct);
        self.join(frame);
        let ended = if exceeded {
            EventType::MapStateFailed
        } else {
            EventType::MapStateSucceeded
        };
        self.emit(frame, ended, || None);
        if exceeded {
            return Err(StatesError::new(
                names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                format!(
                    "The specified tolerated failure threshold was exceeded: {failed} of {total} items failed"
                ),
            ));
        }
        let results: Vec<Value> = results
            .into_iter()
            .map(|r| match r {
                Ok(v) => v,
                Err(e) => Value::Json(json!({"Error": e.error, "Cause": e.cause})),
            })
            .collect();
        let result = Value::from_elements(results);
        self.finish(state, raw_copy, result, &ctx, entered)
    }

    /// One iteration, between `MapIterationStarted` and how it ended (`...Succeeded`,
    /// `...Failed`, or `...Aborted` when a sibling's failure stopped it).
    pub(crate) fn map_iteration(
        &self,
        state: &State,
        map: &asl::model::MapState,
        index: usize,
        input: Value,
        frame: &Frame<'_>,
        outer: Vars,
    ) -> Result<Value, StatesError> {
        let iteration = || MapIteration {
            name: state.name.clone(),
            index: index as u64,
        };
        self.emit(frame, EventType::MapIterationStarted, || {
            Some(EventDetails::MapIterationStarted(iteration()))
        });
        let result = self.run_machine_in(&map.processor, input, frame, outer, false);
        let (kind, wrap): (EventType, fn(MapIteration) -> EventDetails) = match &result {
            Ok(_) => (
                EventType::MapIterationSucceeded,
                EventDetails::MapIterationSucceeded,
            ),
            Err(_) if frame.cancel.is_cancelled() => (
                EventType::MapIterationAborted,
                EventDetails::MapIterationAborted,
            ),
            Err(_) => (
                EventType::MapIterationFailed,
                EventDetails::MapIterationFailed,
            ),
        };
        self.emit(frame, kind, || Some(wrap(iteration())));
        result
    }
}
