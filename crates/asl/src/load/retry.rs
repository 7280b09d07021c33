//! `Retry` and `Catch` of Task, Parallel and Map states.
//!
//! Rules from the developer guide (concepts-error-handling.html): `ErrorEquals` is a non-empty
//! array of error names; the reserved name `States.ALL` "must appear alone in the ErrorEquals
//! array and must appear in the last retrier in the Retry array" (and likewise for the last
//! catcher); error names starting with `States.` are reserved for the ones Step Functions
//! defines.

use serde_json::Value as Json;

use super::fields::{MAX_SECONDS, Obj, PathKind, kind, show};
use super::{Loader, index};
use crate::error::names;
use crate::model::{Catcher, Jitter, Retrier};
use crate::query::QueryLanguage;

/// The `States.*` error names a Retry or Catch may match on.
const KNOWN_ERRORS: &[&str] = &[
    names::ALL,
    names::TASK_FAILED,
    names::TIMEOUT,
    names::HEARTBEAT_TIMEOUT,
    names::RUNTIME,
    names::BRANCH_FAILED,
    names::NO_CHOICE_MATCHED,
    names::INTRINSIC_FAILURE,
    names::PARAMETER_PATH_FAILURE,
    names::RESULT_PATH_MATCH_FAILURE,
    names::RESULT_SELECTOR_PATH_FAILURE,
    names::ITEM_SELECTOR_PATH_FAILURE,
    names::DATA_LIMIT_EXCEEDED,
    names::PERMISSIONS,
    names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
    names::ITEM_READER_FAILED,
    names::RESULT_WRITER_FAILED,
    names::QUERY_EVALUATION_ERROR,
    // Raised by HTTP Task states, which faastlane does not run; listed so that a definition
    // written for Step Functions still loads.
    "States.Http.Socket",
];

const RETRIER_FIELDS: &[&str] = &[
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
];
const CATCHER_FIELDS: &[&str] = &[
    "ErrorEquals",
    "Next",
    "ResultPath",
    "Comment",
    "Assign",
    "Output",
];

/// Which list is being read, for messages.
#[derive(Clone, Copy)]
enum List {
    Retry,
    Catch,
}

impl List {
    fn key(self) -> &'static str {
        match self {
            List::Retry => "Retry",
            List::Catch => "Catch",
        }
    }

    fn item(self) -> &'static str {
        match self {
            List::Retry => "retrier",
            List::Catch => "catcher",
        }
    }
}

impl Loader {
    pub(super) fn retry(&mut self, o: &Obj<'_>) -> Vec<Retrier> {
        let mut out = Vec::new();
        for (item, last) in self.handlers(o, List::Retry) {
            if let Some(r) = self.retrier(&item, last) {
                out.push(r);
            }
        }
        out
    }

    pub(super) fn catch(&mut self, o: &Obj<'_>) -> Vec<Catcher> {
        let mut out = Vec::new();
        for (item, last) in self.handlers(o, List::Catch) {
            if let Some(c) = self.catcher(&item, last) {
                out.push(c);
            }
        }
        out
    }

    /// The objects of a `Retry` or `Catch` array, each with whether it is the last one.
    fn handlers<'a>(&mut self, o: &Obj<'a>, list: List) -> Vec<(Obj<'a>, bool)> {
        let key = list.key();
        let items = match o.get(key) {
            None => return Vec::new(),
            Some(Json::Array(items)) => items,
            Some(other) => {
                self.err(
                    o,
                    key,
                    format!(
                        "{key} must be an array of {}s, not {}",
                        list.item(),
                        kind(other)
                    ),
                );
                return Vec::new();
            }
        };
        let base = o.at(key);
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ptr = index(&base, i);
            match item {
                Json::Object(map) => out.push((o.nested(map, ptr), i + 1 == items.len())),
                other => self.report(
                    ptr,
                    o.state(),
                    format!("a {} must be an object, not {}", list.item(), kind(other)),
                ),
            }
        }
        out
    }

    fn retrier(&mut self, r: &Obj<'_>, last: bool) -> Option<Retrier> {
        self.only_fields(r, "a retrier", RETRIER_FIELDS);
        self.opt_str(r, "Comment");
        let error_equals = self.error_equals(r, List::Retry, last);
        let interval_seconds = self
            .opt_uint(r, "IntervalSeconds", 1, MAX_SECONDS)
            .unwrap_or(1);
        let max_attempts = self.opt_uint(r, "MaxAttempts", 0, MAX_SECONDS).unwrap_or(3);
        let backoff_rate = match r.get("BackoffRate") {
            None => 2.0,
            Some(v) => match v.as_f64() {
                Some(rate) if rate >= 1.0 => rate,
                _ => {
                    self.err(
                        r,
                        "BackoffRate",
                        format!(
                            "BackoffRate must be a number of at least 1.0, not {}",
                            show(v)
                        ),
                    );
                    2.0
                }
            },
        };
        let max_delay_seconds = self.opt_uint(r, "MaxDelaySeconds", 1, MAX_SECONDS);
        let jitter = match self.opt_str(r, "JitterStrategy") {
            None | Some("NONE") => Jitter::None,
            Some("FULL") => Jitter::Full,
            Some(other) => {
                self.err(
                    r,
                    "JitterStrategy",
                    format!("JitterStrategy must be \"FULL\" or \"NONE\", not \"{other}\""),
                );
                Jitter::None
            }
        };
        Some(Retrier {
            error_equals: error_equals?,
            interval_seconds,
            max_attempts,
            backoff_rate,
            max_delay_seconds,
            jitter,
        })
    }

    fn catcher(&mut self, c: &Obj<'_>, last: bool) -> Option<Catcher> {
        self.only_fields(c, "a catcher", CATCHER_FIELDS);
        self.opt_str(c, "Comment");
        let error_equals = self.error_equals(c, List::Catch, last);
        // Whether Next names a state of this machine is checked with the other transitions.
        let next = self.req_str(c, "Next", "a catcher");
        let lang = self.current;
        let (foreign, other) = match lang {
            QueryLanguage::JsonPath => ("Output", QueryLanguage::Jsonata),
            QueryLanguage::Jsonata => ("ResultPath", QueryLanguage::JsonPath),
        };
        if c.has(foreign) {
            self.err_here(
                c,
                format!(
                    "The QueryLanguage is set to '{}', but field '{foreign}' is only supported for the '{}' QueryLanguage",
                    lang.name(),
                    other.name()
                ),
            );
        }
        let (result_path, output) = match lang {
            QueryLanguage::JsonPath => (self.io_path(c, "ResultPath", PathKind::Reference), None),
            QueryLanguage::Jsonata => (
                crate::load::fields::root(),
                self.jsonata(c, "Output", "Output"),
            ),
        };
        let assign = self.assign(c, lang);
        Some(Catcher {
            error_equals: error_equals?,
            next: next?.to_string(),
            result_path,
            assign,
            output,
        })
    }

    fn error_equals(&mut self, o: &Obj<'_>, list: List, last: bool) -> Option<Vec<String>> {
        let items = match o.get("ErrorEquals") {
            None => {
                self.err_here(
                    o,
                    format!(
                        "a {} needs ErrorEquals (a non-empty array of error names)",
                        list.item()
                    ),
                );
                return None;
            }
            Some(Json::Array(items)) if items.is_empty() => {
                self.err(o, "ErrorEquals", "ErrorEquals must name at least one error");
                return None;
            }
            Some(Json::Array(items)) => items,
            Some(other) => {
                self.err(
                    o,
                    "ErrorEquals",
                    format!(
                        "ErrorEquals must be an array of error names, not {}",
                        kind(other)
                    ),
                );
                return None;
            }
        };
        let base = o.at("ErrorEquals");
        let mut names_out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let ptr = index(&base, i);
            let Json::String(name) = item else {
                self.report(
                    ptr,
                    o.state(),
                    format!("an error name must be a string, not {}", kind(item)),
                );
                continue;
            };
            if name == names::ALL {
                if items.len() > 1 {
                    self.report(
                        ptr.clone(),
                        o.state(),
                        "States.ALL must appear alone in ErrorEquals",
                    );
                }
                if !last {
                    self.report(
                        ptr,
                        o.state(),
                        format!(
                            "a {} matching States.ALL must be the last one in {}",
                            list.item(),
                            list.key()
                        ),
                    );
                }
            } else if name.starts_with("States.") && !KNOWN_ERRORS.contains(&name.as_str()) {
                self.report(
                    ptr,
                    o.state(),
                    format!(
                        "unknown error name '{name}': names starting with 'States.' are reserved for the errors Step Functions defines"
                    ),
                );
            }
            names_out.push(name.clone());
        }
        Some(names_out)
    }
}
