//! One state: its type, the fields its type allows, the common fields (paths, templates,
//! transition), and the types with nothing more to check (Pass, Succeed, Fail).

use serde_json::Value as Json;

use super::fields::{Obj, PathKind, kind, root, show};
use super::{Loader, child, index};
use crate::model::{FailState, PassState, State, StateKind, Transition};
use crate::query::QueryLanguage;

/// A state's `Type`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Type {
    Pass,
    Task,
    Choice,
    Wait,
    Succeed,
    Fail,
    Parallel,
    Map,
}

const TYPES: &[(&str, Type)] = &[
    ("Pass", Type::Pass),
    ("Task", Type::Task),
    ("Choice", Type::Choice),
    ("Wait", Type::Wait),
    ("Succeed", Type::Succeed),
    ("Fail", Type::Fail),
    ("Parallel", Type::Parallel),
    ("Map", Type::Map),
];

/// Fields every state may have.
const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];

// Fields per state type in the JSONPath query language, from the spec's state type table and
// the developer guide's page for each state type (state-pass.html, state-task.html, ...).
const PASS: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultPath",
    "Result",
    "Next",
    "End",
];
const TASK: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Resource",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Retry",
    "Catch",
    "Credentials",
    "Next",
    "End",
];
const CHOICE: &[&str] = &["InputPath", "OutputPath", "Choices", "Default"];
const WAIT: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "TimestampPath",
    "Next",
    "End",
];
const SUCCEED: &[&str] = &["InputPath", "OutputPath"];
const FAIL: &[&str] = &["Error", "ErrorPath", "Cause", "CausePath"];
const PARALLEL: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Branches",
    "Retry",
    "Catch",
    "Next",
    "End",
];
const MAP: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ItemProcessor",
    "Iterator",
    "ItemsPath",
    "ItemSelector",
    "Parameters",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "Label",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "Next",
    "End",
    // Read from or written to S3: reported as unsupported by the Map state itself.
    "ItemReader",
    "ResultWriter",
    "ItemBatcher",
];

impl Type {
    fn parse(name: &str) -> Option<Type> {
        TYPES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    pub(super) fn name(self) -> &'static str {
        TYPES
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("?", |(n, _)| n)
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Type::Pass => PASS,
            Type::Task => TASK,
            Type::Choice => CHOICE,
            Type::Wait => WAIT,
            Type::Succeed => SUCCEED,
            Type::Fail => FAIL,
            Type::Parallel => PARALLEL,
            Type::Map => MAP,
        }
    }

    fn allows(self, field: &str) -> bool {
        COMMON.contains(&field) || self.fields().contains(&field)
    }

    /// The JSONata fields of a state of this type ("Transforming data with JSONata", the
    /// state field tables).
    fn allows_jsonata(self, field: &str) -> bool {
        match field {
            "Output" => self != Type::Fail,
            "Arguments" => matches!(self, Type::Task | Type::Parallel | Type::Map),
            "Items" => self == Type::Map,
            _ => false,
        }
    }

    /// `Assign`: every type but Succeed and Fail.
    fn allows_assign(self) -> bool {
        !matches!(self, Type::Succeed | Type::Fail)
    }

    /// Choice, Succeed and Fail have neither `Next` nor `End`.
    fn has_transition(self) -> bool {
        !matches!(self, Type::Choice | Type::Succeed | Type::Fail)
    }
}

/// Every transition a state declares, without checking anything: `(field, target, pointer)`.
/// Only fields its type allows count (all of them when the type is unknown), so that a
/// broken state still links the graph and does not make its successors look unreachable.
pub(super) fn successors(json: &Json, ptr: &str) -> Vec<(&'static str, String, String)> {
    let Json::Object(map) = json else {
        return Vec::new();
    };
    let ty = map.get("Type").and_then(Json::as_str).and_then(Type::parse);
    let allows = |field: &str| ty.is_none_or(|t| t.allows(field));
    let mut out = Vec::new();
    if allows("Next")
        && let Some(Json::String(s)) = map.get("Next")
    {
        out.push(("Next", s.clone(), child(ptr, "Next")));
    }
    if allows("Default")
        && let Some(Json::String(s)) = map.get("Default")
    {
        out.push(("Default", s.clone(), child(ptr, "Default")));
    }
    for list in ["Choices", "Catch"] {
        if !allows(list) {
            continue;
        }
        if let Some(Json::Array(items)) = map.get(list) {
            for (i, item) in items.iter().enumerate() {
                if let Some(Json::String(s)) = item.get("Next") {
                    let at = child(&index(&child(ptr, list), i), "Next");
                    out.push(("Next", s.clone(), at));
                }
            }
        }
    }
    out
}

impl Loader {
    /// Validates one state and builds it when it is valid.
    pub(super) fn state(
        &mut self,
        json: &Json,
        ptr: String,
        path: &str,
        name: &str,
    ) -> Option<State> {
        let Json::Object(map) = json else {
            self.report(
                ptr,
                Some(path),
                format!("a state must be a JSON object, not {}", kind(json)),
            );
            return None;
        };
        let full = Obj {
            map,
            ptr,
            state: Some(path.to_string()),
        };
        let lang = self.state_language(&full);
        let outer_lang = std::mem::replace(&mut self.current, lang);
        let state = self.state_in(&full, lang, name);
        self.current = outer_lang;
        state
    }

    fn state_in(&mut self, full: &Obj<'_>, lang: QueryLanguage, name: &str) -> Option<State> {
        let filtered = self.for_language(full, lang);
        let o = Obj {
            map: &filtered,
            ptr: full.ptr.clone(),
            state: full.state.clone(),
        };
        let ty = match o.get("Type") {
            None => {
                self.err_here(&o, "a state needs a Type field");
                return None;
            }
            Some(Json::String(t)) => match Type::parse(t) {
                Some(ty) => ty,
                None => {
                    let known: Vec<&str> = TYPES.iter().map(|(n, _)| *n).collect();
                    self.err(
                        &o,
                        "Type",
                        format!(
                            "unknown state Type '{t}' (expected one of {})",
                            known.join(", ")
                        ),
                    );
                    return None;
                }
            },
            Some(other) => {
                self.err(
                    &o,
                    "Type",
                    format!("Type must be a string, not {}", kind(other)),
                );
                return None;
            }
        };
        self.state_fields(&o, ty, lang);
        let assign = if ty.allows_assign() {
            self.assign(full, lang)
        } else {
            if full.has("Assign") {
                self.err(
                    full,
                    "Assign",
                    format!("Assign is not allowed in a {} state", ty.name()),
                );
            }
            None
        };
        let jsonata = (lang == QueryLanguage::Jsonata).then(|| Box::new(self.jsonata_fields(full)));

        let comment = self.opt_str(&o, "Comment").map(str::to_string);
        let input_path = self.io_path(&o, "InputPath", PathKind::Any);
        let output_path = self.io_path(&o, "OutputPath", PathKind::Any);
        let result_path = if ty.allows("ResultPath") {
            self.io_path(&o, "ResultPath", PathKind::Reference)
        } else {
            root()
        };
        // A Map state's `Parameters` is the legacy spelling of `ItemSelector` (in MapState).
        let parameters = if ty.allows("Parameters") && ty != Type::Map {
            self.opt_template(&o, "Parameters")
        } else {
            None
        };
        let result_selector = if ty.allows("ResultSelector") {
            self.opt_template(&o, "ResultSelector")
        } else {
            None
        };
        let transition = self.transition(&o, ty);

        let kind = match ty {
            Type::Pass => Some(StateKind::Pass(PassState {
                result: o.get("Result").cloned(),
            })),
            Type::Task => self.task(&o).map(StateKind::Task),
            Type::Choice => self.choice(&o).map(StateKind::Choice),
            Type::Wait => self.wait(&o).map(StateKind::Wait),
            Type::Succeed => Some(StateKind::Succeed),
            Type::Fail => Some(StateKind::Fail(FailState {
                error: self.string_or_path(&o, "Error"),
                cause: self.string_or_path(&o, "Cause"),
            })),
            Type::Parallel => self.parallel(&o).map(StateKind::Parallel),
            Type::Map => self.map_state(&o).map(StateKind::Map),
        };
        Some(State {
            name: name.to_string(),
            comment,
            kind: kind?,
            input_path,
            output_path,
            result_path,
            parameters,
            result_selector,
            transition: transition?,
            query_language: lang,
            assign,
            jsonata,
        })
    }

    /// Reports every field the state's type does not allow, saying why where it helps.
    fn state_fields(&mut self, o: &Obj<'_>, ty: Type, lang: QueryLanguage) {
        let t = ty.name();
        for key in o.map.keys() {
            let key = key.as_str();
            if ty.allows(key) || (lang == QueryLanguage::Jsonata && ty.allows_jsonata(key)) {
                continue;
            }
            let message = match key {
                "Next" | "End" if ty == Type::Choice => format!(
                    "a Choice state cannot have {key}: it picks the next state with Choices and Default"
                ),
                "Next" | "End" => {
                    format!("a {t} state ends the execution, so it cannot have {key}")
                }
                k if TYPES.iter().any(|(_, other)| other.allows(k)) => {
                    format!("{k} is not allowed in a {t} state")
                }
                k => format!("unknown field '{k}' in a {t} state"),
            };
            self.err(o, key, message);
        }
    }

    /// Exactly one of `Next` and `"End": true`, for the types that transition.
    fn transition(&mut self, o: &Obj<'_>, ty: Type) -> Option<Transition> {
        if !ty.has_transition() {
            return Some(Transition::None);
        }
        match (o.get("Next"), o.get("End")) {
            (Some(_), Some(_)) => {
                self.err(o, "End", "a state cannot have both Next and End");
                None
            }
            (None, None) => {
                self.err_here(
                    o,
                    format!(
                        "a {} state needs Next (the state to run next) or \"End\": true",
                        ty.name()
                    ),
                );
                None
            }
            (Some(Json::String(next)), None) => Some(Transition::Next(next.clone())),
            (Some(other), None) => {
                self.err(
                    o,
                    "Next",
                    format!("Next must be a state name (a string), not {}", kind(other)),
                );
                None
            }
            (None, Some(Json::Bool(true))) => Some(Transition::End),
            (None, Some(Json::Bool(false))) => {
                self.err(
                    o,
                    "End",
                    "End must be true; to continue to another state, use Next instead",
                );
                None
            }
            (None, Some(other)) => {
                self.err(o, "End", format!("End must be true, not {}", show(other)));
                None
            }
        }
    }
}
