//! The states that hold state machines: Parallel (its `Branches`) and Map (its item
//! processor).

use serde_json::Value as Json;

use super::fields::{Obj, PathKind, kind, root, show};
use super::machine::Scope;
use super::{Loader, index};
use crate::model::{MapState, NumberOrPath, ParallelState, ProcessorMode, StateMachine};

const PROCESSOR_CONFIG_FIELDS: &[&str] = &["Mode", "ExecutionType"];

/// Fields that only a Map in DISTRIBUTED mode may have (developer guide, state-map-distributed.html).
const DISTRIBUTED_ONLY: &[&str] = &[
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "Label",
];

impl Loader {
    pub(super) fn parallel(&mut self, o: &Obj<'_>) -> Option<ParallelState> {
        let branches = match o.get("Branches") {
            None => {
                self.err_here(
                    o,
                    "a Parallel state needs Branches (a non-empty array of state machines)",
                );
                None
            }
            Some(Json::Array(b)) if b.is_empty() => {
                self.err(o, "Branches", "Branches must contain at least one branch");
                None
            }
            Some(Json::Array(b)) => Some(b),
            Some(other) => {
                self.err(
                    o,
                    "Branches",
                    format!(
                        "Branches must be an array of state machines, not {}",
                        kind(other)
                    ),
                );
                None
            }
        };
        let mut machines = Some(Vec::new());
        for (i, branch) in branches.into_iter().flatten().enumerate() {
            let ptr = index(&o.at("Branches"), i);
            let prefix = format!("{}/branch {i}", o.state().unwrap_or_default());
            let machine = match branch {
                Json::Object(map) => {
                    let b = Obj {
                        map,
                        ptr,
                        state: Some(prefix.clone()),
                    };
                    self.machine(&b, Some(&prefix), Scope::Branch)
                }
                other => {
                    self.report(
                        ptr,
                        o.state(),
                        format!(
                            "a branch must be a state machine object, not {}",
                            kind(other)
                        ),
                    );
                    None
                }
            };
            match (machine, machines.as_mut()) {
                (Some(m), Some(v)) => v.push(m),
                _ => machines = None,
            }
        }
        let retry = self.retry(o);
        let catch = self.catch(o);
        Some(ParallelState {
            branches: machines.filter(|_| branches.is_some())?,
            retry,
            catch,
        })
    }

    pub(super) fn map_state(&mut self, o: &Obj<'_>) -> Option<MapState> {
        for (key, message) in [
            (
                "ItemReader",
                "ItemReader is not supported: it reads items from S3, and faastlane runs locally; pass the items in the input and select them with ItemsPath",
            ),
            (
                "ResultWriter",
                "ResultWriter is not supported: it writes results to S3, and faastlane runs locally; the results are the state's output",
            ),
            (
                "ItemBatcher",
                "ItemBatcher is not supported yet: pass one item per iteration",
            ),
        ] {
            if o.has(key) {
                self.err(o, key, message);
            }
        }

        let (processor, mode) = self.processor(o);

        for key in DISTRIBUTED_ONLY {
            if o.has(key) && mode == Some(ProcessorMode::Inline) {
                self.err(
                    o,
                    key,
                    format!(
                        "{key} is only allowed in DISTRIBUTED mode (ItemProcessor.ProcessorConfig.Mode)"
                    ),
                );
            }
        }

        let items_path = match o.get("ItemsPath") {
            None => root(),
            Some(Json::Null) => {
                self.err(o, "ItemsPath", "ItemsPath must be a path, not null");
                None
            }
            Some(_) => self.opt_path(o, "ItemsPath", PathKind::Value),
        };

        if o.has("ItemSelector") && o.has("Parameters") {
            self.err(
                o,
                "Parameters",
                "only one of ItemSelector and Parameters may be given (Parameters is the older name of ItemSelector)",
            );
        }
        let item_selector = if o.has("ItemSelector") {
            self.opt_template(o, "ItemSelector")
        } else {
            self.opt_template(o, "Parameters")
        };

        let max_concurrency = self
            .number_or_path(o, "MaxConcurrency", 0, u64::MAX)
            .unwrap_or(NumberOrPath::Literal(0));

        if o.has("ToleratedFailurePercentage") && o.has("ToleratedFailurePercentagePath") {
            self.err(
                o,
                "ToleratedFailurePercentagePath",
                "only one of ToleratedFailurePercentage and ToleratedFailurePercentagePath may be given",
            );
        }
        let tolerated_failure_percentage = match o.get("ToleratedFailurePercentage") {
            None => None,
            Some(v) => match v.as_f64() {
                Some(p) if (0.0..=100.0).contains(&p) => Some(p),
                _ => {
                    self.err(
                        o,
                        "ToleratedFailurePercentage",
                        format!(
                            "ToleratedFailurePercentage must be a number from 0 to 100, not {}",
                            show(v)
                        ),
                    );
                    None
                }
            },
        };
        let tolerated_failure_percentage_path =
            self.opt_path(o, "ToleratedFailurePercentagePath", PathKind::Value);
        let (tolerated_failure_count, tolerated_failure_count_path) =
            match self.number_or_path(o, "ToleratedFailureCount", 0, u64::MAX) {
                Some(NumberOrPath::Literal(n)) => (Some(n), None),
                Some(NumberOrPath::Path(p)) => (None, Some(p)),
                None => (None, None),
            };

        let label = self.opt_str(o, "Label").map(str::to_string);
        let retry = self.retry(o);
        let catch = self.catch(o);
        Some(MapState {
            items_path: items_path?,
            item_selector,
            processor: processor?,
            mode: mode?,
            max_concurrency,
            tolerated_failure_percentage,
            tolerated_failure_percentage_path,
            tolerated_failure_count,
            tolerated_failure_count_path,
            label,
            retry,
            catch,
        })
    }

    /// `ItemProcessor` (with its `ProcessorConfig`) or the legacy `Iterator`.
    fn processor(&mut self, o: &Obj<'_>) -> (Option<StateMachine>, Option<ProcessorMode>) {
        let (key, scope) = match (o.has("ItemProcessor"), o.has("Iterator")) {
            (true, true) => {
                self.err(
                    o,
                    "Iterator",
                    "only one of ItemProcessor and Iterator may be given (Iterator is the older name of ItemProcessor)",
                );
                ("ItemProcessor", Scope::ItemProcessor)
            }
            (true, false) => ("ItemProcessor", Scope::ItemProcessor),
            (false, true) => ("Iterator", Scope::Iterator),
            (false, false) => {
                self.err_here(
                    o,
                    "a Map state needs ItemProcessor (the state machine run for each item)",
                );
                return (None, None);
            }
        };
        let Some(json) = o.get(key) else {
            return (None, None);
        };
        let Json::Object(map) = json else {
            self.err(
                o,
                key,
                format!("{key} must be a state machine object, not {}", kind(json)),
            );
            return (None, None);
        };
        let prefix = format!("{}/{key}", o.state().unwrap_or_default());
        let p = Obj {
            map,
            ptr: o.at(key),
            state: o.state.clone(),
        };
        // AWS accepts `ProcessorConfig` in the legacy `Iterator` too.
        let mode = self.processor_config(&p);
        let machine = self.machine(
            &Obj {
                map,
                ptr: p.ptr.clone(),
                state: Some(prefix.clone()),
            },
            Some(&prefix),
            scope,
        );
        (machine, mode)
    }

    fn processor_config(&mut self, p: &Obj<'_>) -> Option<ProcessorMode> {
        let config = match p.get("ProcessorConfig") {
            None => return Some(ProcessorMode::Inline),
            Some(Json::Object(config)) => p.nested(config, p.at("ProcessorConfig")),
            Some(other) => {
                self.err(
                    p,
                    "ProcessorConfig",
                    format!("ProcessorConfig must be an object, not {}", kind(other)),
                );
                return None;
            }
        };
        self.only_fields(&config, "ProcessorConfig", PROCESSOR_CONFIG_FIELDS);
        let mode = match self.opt_str(&config, "Mode") {
            None | Some("INLINE") => ProcessorMode::Inline,
            Some("DISTRIBUTED") => ProcessorMode::Distributed,
            Some(other) => {
                self.err(
                    &config,
                    "Mode",
                    format!("Mode must be \"INLINE\" or \"DISTRIBUTED\", not \"{other}\""),
                );
                return None;
            }
        };
        match mode {
            ProcessorMode::Distributed => match self.opt_str(&config, "ExecutionType") {
                Some("STANDARD" | "EXPRESS") => {}
                Some(other) => self.err(
                    &config,
                    "ExecutionType",
                    format!("ExecutionType must be \"STANDARD\" or \"EXPRESS\", not \"{other}\""),
                ),
                None if !config.has("ExecutionType") => self.err_here(
                    &config,
                    "a DISTRIBUTED Map needs ExecutionType (\"STANDARD\" or \"EXPRESS\")",
                ),
                None => {}
            },
            ProcessorMode::Inline => {
                if config.has("ExecutionType") {
                    self.err(
                        &config,
                        "ExecutionType",
                        "ExecutionType is only used in DISTRIBUTED mode",
                    );
                }
            }
        }
        Some(mode)
    }
}
