//! A state machine: the top level, a Parallel branch or a Map processor. Its own fields, its
//! states, and its transition graph (every target exists, every state is reachable).

use std::collections::{HashMap, HashSet, VecDeque};

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::fields::{MAX_SECONDS, Obj, kind};
use super::state::successors;
use super::{Loader, child};
use crate::model::StateMachine;

/// Where a machine sits; decides which fields it may have.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Top,
    /// A Parallel branch.
    Branch,
    /// A Map state's legacy `Iterator`, which AWS lets hold `ProcessorConfig` as well.
    Iterator,
    /// A Map `ItemProcessor`, which may also hold `ProcessorConfig` (read by the Map state).
    ItemProcessor,
}

/// The spec: "The state name, whose length MUST BE less than or equal to 80 Unicode characters".
const MAX_STATE_NAME: usize = 80;

const TOP_FIELDS: &[&str] = &[
    "StartAt",
    "States",
    "Comment",
    "Version",
    "TimeoutSeconds",
    "QueryLanguage",
];
const NESTED_FIELDS: &[&str] = &["StartAt", "States", "Comment"];
const PROCESSOR_FIELDS: &[&str] = &["StartAt", "States", "Comment", "ProcessorConfig"];

impl Loader {
    pub(super) fn top_level(&mut self, definition: &Json) -> Option<StateMachine> {
        let Json::Object(map) = definition else {
            self.report(
                String::new(),
                None,
                format!(
                    "a state machine definition must be a JSON object, not {}",
                    kind(definition)
                ),
            );
            return None;
        };
        let o = Obj {
            map,
            ptr: String::new(),
            state: None,
        };
        self.language = self.machine_language(&o);
        self.machine(&o, None, Scope::Top)
    }

    /// Validates one machine; `prefix` is the state path of the machine inside its parents
    /// (`Fan out/branch 0`), `None` at the top level.
    pub(super) fn machine(
        &mut self,
        o: &Obj<'_>,
        prefix: Option<&str>,
        scope: Scope,
    ) -> Option<StateMachine> {
        let allowed = match scope {
            Scope::Top => TOP_FIELDS,
            Scope::Branch => NESTED_FIELDS,
            Scope::Iterator | Scope::ItemProcessor => PROCESSOR_FIELDS,
        };
        self.only_fields(o, machine_noun(scope), allowed);

        let comment = self.opt_str(o, "Comment").map(str::to_string);
        let mut timeout_seconds = None;
        if scope == Scope::Top {
            if let Some(v) = self.opt_str(o, "Version")
                && v != "1.0"
            {
                self.err(
                    o,
                    "Version",
                    format!("Version must be \"1.0\" (the only version of the States language), not \"{v}\""),
                );
            }
            timeout_seconds = self.opt_uint(o, "TimeoutSeconds", 1, MAX_SECONDS);
        }

        let start_at = self.req_str(o, "StartAt", machine_noun(scope));
        let states_json = match o.get("States") {
            None => {
                self.err_here(o, format!("{} needs a States field", machine_noun(scope)));
                None
            }
            Some(Json::Object(map)) if map.is_empty() => {
                self.err(o, "States", "States must contain at least one state");
                None
            }
            Some(Json::Object(map)) => Some(map),
            Some(other) => {
                self.err(
                    o,
                    "States",
                    format!("States must be an object of states, not {}", kind(other)),
                );
                None
            }
        };
        let states_json = states_json?;
        let states_ptr = o.at("States");

        let mut states = IndexMap::with_capacity(states_json.len());
        let mut all_built = true;
        let mut edges: Vec<Vec<String>> = Vec::with_capacity(states_json.len());
        for (name, json) in states_json {
            let ptr = child(&states_ptr, name);
            let path = match prefix {
                Some(p) => format!("{p}/{name}"),
                None => name.clone(),
            };
            self.state_name(name, &ptr, &path);

            let mut targets = Vec::new();
            for (field, target, at) in successors(json, &ptr) {
                if !states_json.contains_key(&target) {
                    self.report_missing(at, Some(&path), field, &target);
                }
                targets.push(target);
            }
            edges.push(targets);

            match self.state(json, ptr, &path, name) {
                Some(state) => {
                    states.insert(name.clone(), state);
                }
                None => all_built = false,
            }
        }

        let start_at = start_at?;
        if !states_json.contains_key(start_at) {
            self.report_missing(o.at("StartAt"), prefix, "StartAt", start_at);
            return None;
        }
        self.unreachable(states_json, &edges, start_at, &states_ptr, prefix);

        if !all_built {
            return None;
        }
        Some(StateMachine {
            comment,
            start_at: start_at.to_string(),
            states,
            timeout_seconds,
        })
    }

    fn state_name(&mut self, name: &str, ptr: &str, path: &str) {
        let len = name.chars().count();
        if len > MAX_STATE_NAME {
            self.report(
                ptr.to_string(),
                Some(path),
                format!("state name is {len} characters long; the limit is {MAX_STATE_NAME}"),
            );
        }
        if let Some(first) = self.names.get(name) {
            let first = first.clone();
            self.report(
                ptr.to_string(),
                Some(path),
                format!(
                    "state name '{name}' is already used at {first}; state names must be unique in the whole definition, including Parallel branches and Map processors"
                ),
            );
        } else {
            self.names.insert(name.to_string(), ptr.to_string());
        }
    }

    /// Reports states that no chain of `Next`, `Default`, `Choices` or `Catch` reaches from
    /// `StartAt`.
    fn unreachable(
        &mut self,
        states: &serde_json::Map<String, Json>,
        edges: &[Vec<String>],
        start_at: &str,
        states_ptr: &str,
        prefix: Option<&str>,
    ) {
        let names: Vec<&String> = states.keys().collect();
        let positions: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let position = |name: &str| positions.get(name).copied();
        let mut seen = HashSet::new();
        let mut queue = VecDeque::new();
        if let Some(i) = position(start_at) {
            seen.insert(i);
            queue.push_back(i);
        }
        while let Some(i) = queue.pop_front() {
            for target in edges.get(i).into_iter().flatten() {
                if let Some(j) = position(target)
                    && seen.insert(j)
                {
                    queue.push_back(j);
                }
            }
        }
        for (i, name) in names.iter().enumerate() {
            if !seen.contains(&i) {
                let path = match prefix {
                    Some(p) => format!("{p}/{name}"),
                    None => name.to_string(),
                };
                self.report(
                    child(states_ptr, name),
                    Some(&path),
                    format!(
                        "state '{name}' is unreachable: no Next, Default, Choices or Catch leads to it from StartAt '{start_at}'"
                    ),
                );
            }
        }
    }
}

fn machine_noun(scope: Scope) -> &'static str {
    match scope {
        Scope::Top => "the state machine",
        Scope::Branch => "a Parallel branch",
        Scope::Iterator => "Iterator",
        Scope::ItemProcessor => "ItemProcessor",
    }
}
