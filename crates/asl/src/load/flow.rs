//! Choice and Wait states: the states that steer or pause the flow.

use serde_json::Value as Json;

use super::fields::{MAX_SECONDS, Obj, PathKind, kind};
use super::{Loader, index};
use crate::choice;
use crate::model::{ChoiceBranch, ChoiceState, WaitState};

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
            let mut problems = Vec::new();
            let rule = choice::parse_rule(rule_json, &ptr, true, &mut problems);
            for (pointer, message) in problems {
                self.report(pointer, o.state(), message);
            }
            let r = o.nested(map, ptr);
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
            match (rule, next, choices.as_mut()) {
                (Some(rule), Some(next), Some(v)) => v.push(ChoiceBranch { rule, next }),
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
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
        && s.as_bytes().get(10) == Some(&b'T')
        && !s.contains(['t', 'z', ' '])
}
