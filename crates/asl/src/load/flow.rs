//! Choice and Wait states: the states that steer or pause the flow.

use serde_json::Value as Json;

use super::fields::{MAX_SECONDS, Obj, PathKind, kind};
use super::{Loader, index};
use crate::choice;
use crate::model::{ChoiceBranch, ChoiceState, WaitState};
use crate::query::{Jsonata, QueryLanguage};

/// Fields of a choice rule in a JSONata state.
const JSONATA_RULE: &[&str] = &["Condition", "Next", "Assign", "Output", "Comment"];

impl Loader {
    pub(super) fn choice(&mut self, o: &Obj<'_>) -> Option<ChoiceState> {
        let rules = match o.get("Choices") {
            None => {
                self.err_here(
                    o,
                    "a Choice state needs Choices (a non-empty array of rules)",
                );
                return None;
            }
            Some(Json::Array(rules)) if rules.is_empty() => {
                self.err(o, "Choices", "Choices must contain at least one rule");
                return None;
            }
            Some(Json::Array(rules)) => rules,
            Some(other) => {
                self.err(
                    o,
                    "Choices",
                    format!("Choices must be an array of rules, not {}", kind(other)),
                );
                return None;
            }
        };
        let mut choices = Some(Vec::with_capacity(rules.len()));
        for (i, rule_json) in rules.iter().enumerate() {
            let ptr = index(&o.at("Choices"), i);
            let Json::Object(map) = rule_json else {
                self.report(
                    ptr,
                    o.state(),
                    format!("a choice rule must be an object, not {}", kind(rule_json)),
                );
                choices = None;
                continue;
            };
            let r = o.nested(map, ptr.clone());
            let lang = self.current;
            let (rule, condition, output) = if lang == QueryLanguage::Jsonata {
                (
                    None,
                    self.jsonata_rule(&r, i),
                    r.get("Output")
                        .and_then(|_| self.jsonata(&r, "Output", &format!("Choices[{i}]/Output"))),
                )
            } else {
                let mut plain = map.clone();
                plain.remove("Assign");
                for key in ["Condition", "Output"] {
                    if plain.remove(key).is_some() {
                        self.err_here(&r, format!(
                            "The QueryLanguage is set to 'JSONPath', but field '{key}' is only supported for the 'JSONata' QueryLanguage"
                        ));
                    }
                }
                let mut problems = Vec::new();
                let rule = choice::parse_rule(&Json::Object(plain), &ptr, true, &mut problems);
                for (pointer, message) in problems {
                    self.report(pointer, o.state(), message);
                }
                (rule, None, None)
            };
            let assign = self.assign(&r, lang);
            let next = match r.get("Next") {
                None => {
                    self.err_here(
                        &r,
                        "a choice rule needs Next (the state to run when it matches)",
                    );
                    None
                }
                Some(Json::String(next)) => Some(next.clone()),
                Some(other) => {
                    self.err(
                        &r,
                        "Next",
                        format!("Next must be a state name (a string), not {}", kind(other)),
                    );
                    None
                }
            };
            match (rule.as_ref(), next, choices.as_mut()) {
                (Some(_), Some(next), Some(v)) if lang == QueryLanguage::JsonPath => {
                    v.push(ChoiceBranch {
                        rule,
                        condition: None,
                        next,
                        assign,
                        output: None,
                    })
                }
                (_, Some(next), Some(v)) if condition.is_some() => v.push(ChoiceBranch {
                    rule: None,
                    condition,
                    next,
                    assign,
                    output,
                }),
                _ => choices = None,
            }
        }
        let default = self.opt_str(o, "Default").map(str::to_string);
        Some(ChoiceState {
            choices: choices?,
            default,
        })
    }

    pub(super) fn wait(&mut self, o: &Obj<'_>) -> Option<WaitState> {
        const ONE_OF: [&str; 4] = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"];
        let given: Vec<&str> = ONE_OF.into_iter().filter(|k| o.has(k)).collect();
        let Some(first) = given.first() else {
            self.err_here(
                o,
                "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp or TimestampPath",
            );
            return None;
        };
        for extra in given.iter().skip(1) {
            self.err(
                o,
                extra,
                format!(
                    "a Wait state takes exactly one of Seconds, SecondsPath, Timestamp or TimestampPath; {first} is already given"
                ),
            );
        }
        match *first {
            "Seconds" => self
                .opt_uint(o, "Seconds", 0, MAX_SECONDS)
                .map(WaitState::Seconds),
            "SecondsPath" => self
                .opt_path(o, "SecondsPath", PathKind::Value)
                .map(WaitState::SecondsPath),
            "Timestamp" => {
                let ts = self.opt_str(o, "Timestamp")?;
                if is_timestamp(ts) {
                    Some(WaitState::Timestamp(ts.to_string()))
                } else {
                    self.err(
                        o,
                        "Timestamp",
                        format!(
                            "Timestamp '{ts}' is not an RFC 3339 timestamp with an uppercase T and Z, like 2024-08-18T17:33:00Z"
                        ),
                    );
                    None
                }
            }
            _ => self
                .opt_path(o, "TimestampPath", PathKind::Value)
                .map(WaitState::TimestampPath),
        }
    }
}

/// The developer guide (state-wait.html): "Timestamps must conform to the RFC3339 profile of
/// ISO 8601, with the further restrictions that an uppercase T must separate the date and
/// time portions, and an uppercase Z must denote that a numeric time zone offset is not
/// present".
fn is_timestamp(s: &str) -> bool {
    crate::choice::parse_timestamp(s).is_some()
}

impl Loader {
    /// A JSONata choice rule's `Condition` (required; `true`/`false` literals allowed).
    fn jsonata_rule(&mut self, r: &Obj<'_>, i: usize) -> Option<Jsonata> {
        self.only_fields(r, "a choice rule of a JSONata state", JSONATA_RULE);
        match r.get("Condition") {
            None => {
                self.err_here(r, "a choice rule of a JSONata state needs a Condition");
                None
            }
            Some(Json::Bool(_)) | Some(Json::String(_)) => {
                let c = self.jsonata(r, "Condition", &format!("Choices[{i}]/Condition"))?;
                if matches!(c, Jsonata::Literal(Json::String(_))) {
                    self.err(
                        r,
                        "Condition",
                        "Condition must be a JSONata expression ({% ... %}) or a boolean",
                    );
                    return None;
                }
                Some(c)
            }
            Some(other) => {
                self.err(
                    r,
                    "Condition",
                    format!(
                        "Condition must be a JSONata expression or a boolean, not {}",
                        kind(other)
                    ),
                );
                None
            }
        }
    }
}
