//! Query languages and variables in a definition: which language a state uses, the fields
//! that belong to only one of them, JSONata templates and `Assign`.
//!
//! The messages that AWS's `ValidateStateMachineDefinition` gives for a field of the other
//! language and for reverting a JSONata machine to JSONPath one state at a time are AWS's own
//! words, reported at the state, as AWS locates them.

use serde_json::{Map, Value as Json};

use super::Loader;
use super::fields::{Obj, kind};
use crate::model::JsonataFields;
use crate::query::{
    Assign, Jsonata, QueryLanguage, expression_text, limits, variable_name_problem,
};

/// Fields only a JSONPath state may have.
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "ResultSelector",
    "Parameters",
    "Result",
    "ItemsPath",
    "MaxConcurrencyPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];

/// Fields only a JSONata state may have.
pub(super) const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items", "Condition"];

/// A value the JSONPath checks accept in place of an expression, for the fields that take a
/// number or a timestamp in JSONPath and may be an expression in JSONata. A Task's
/// `TimeoutSeconds` and `HeartbeatSeconds` get none: the JSONPath model leaves them out (they
/// are in [`JsonataFields`]), so that their comparison is left to the run, where both values
/// are known.
fn placeholder(key: &str) -> Option<Json> {
    Some(match key {
        "MaxConcurrency" | "Seconds" | "ToleratedFailureCount" | "ToleratedFailurePercentage" => {
            Json::from(0)
        }
        "Timestamp" => Json::from("1970-01-01T00:00:00Z"),
        _ => return None,
    })
}

impl Loader {
    /// The query language of the top-level machine (`QueryLanguage`, JSONPath by default).
    pub(super) fn machine_language(&mut self, o: &Obj<'_>) -> QueryLanguage {
        self.language_field(o).unwrap_or_default()
    }

    /// The language of one state: its own `QueryLanguage`, else its machine's (the top
    /// level's, also inside Parallel branches and Map processors).
    pub(super) fn state_language(&mut self, o: &Obj<'_>) -> QueryLanguage {
        match self.language_field(o) {
            Some(QueryLanguage::JsonPath) if self.language == QueryLanguage::Jsonata => {
                self.err_here(
                    o,
                    "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
                );
                QueryLanguage::Jsonata
            }
            Some(lang) => lang,
            None => self.language,
        }
    }

    fn language_field(&mut self, o: &Obj<'_>) -> Option<QueryLanguage> {
        match o.get("QueryLanguage")? {
            Json::String(s) if s == "JSONPath" => Some(QueryLanguage::JsonPath),
            Json::String(s) if s == "JSONata" => Some(QueryLanguage::Jsonata),
            Json::String(_) => {
                self.err(
                    o,
                    "QueryLanguage",
                    "Value should be one of the following: [JSONPath, JSONata]",
                );
                Some(QueryLanguage::Jsonata)
            }
            _ => {
                self.err(o, "QueryLanguage", "Expected value of type [STRING]");
                Some(QueryLanguage::Jsonata)
            }
        }
    }

    /// Reports the fields of the other language (AWS reports them at the state) and returns
    /// the state's fields without them and, in a JSONata state, with every expression-valued
    /// number replaced by a value the JSONPath checks accept (the expression is kept in
    /// [`JsonataFields`]), so the checks shared by both languages run once.
    pub(super) fn for_language(&mut self, o: &Obj<'_>, lang: QueryLanguage) -> Map<String, Json> {
        let (foreign, other) = match lang {
            QueryLanguage::JsonPath => (JSONATA_ONLY, QueryLanguage::Jsonata),
            QueryLanguage::Jsonata => (JSONPATH_ONLY, QueryLanguage::JsonPath),
        };
        let mut out = Map::with_capacity(o.map.len());
        for (key, value) in o.map {
            if key == "Assign" {
                continue;
            }
            if foreign.contains(&key.as_str()) {
                self.err_here(
                    o,
                    format!(
                        "The QueryLanguage is set to '{}', but field '{key}' is only supported for the '{}' QueryLanguage",
                        lang.name(),
                        other.name()
                    ),
                );
                continue;
            }
            let value = match (lang, value) {
                (QueryLanguage::Jsonata, Json::String(s)) if expression_text(s).is_some() => {
                    let task = o.get("Type").and_then(Json::as_str) == Some("Task");
                    if task && matches!(key.as_str(), "TimeoutSeconds" | "HeartbeatSeconds") {
                        continue;
                    }
                    placeholder(key).unwrap_or_else(|| value.clone())
                }
                _ => value.clone(),
            };
            out.insert(key.clone(), value);
        }
        out
    }

    /// Compiles one JSONata field; a syntax error is a definition error at the field.
    pub(super) fn jsonata(&mut self, o: &Obj<'_>, key: &str, field: &str) -> Option<Jsonata> {
        let json = o.get(key)?;
        match Jsonata::compile(json, field) {
            Ok(t) => Some(t),
            Err(e) => {
                // At the string itself, however deep in the field's value (AWS reports
                // JSONata expression problems at e.g. `/States/E/Output/v`).
                let pointer = format!("{}{}", o.at(key), e.pointer);
                self.report(
                    pointer,
                    o.state(),
                    format!("INVALID_JSONATA_EXPRESSION: {e}"),
                );
                None
            }
        }
    }

    /// The fields of a JSONata state.
    pub(super) fn jsonata_fields(&mut self, o: &Obj<'_>) -> JsonataFields {
        let expr = |l: &mut Loader, key: &str| match o.get(key) {
            Some(Json::String(s)) if expression_text(s).is_some() => l.jsonata(o, key, key),
            _ => None,
        };
        JsonataFields {
            arguments: self.jsonata(o, "Arguments", "Arguments"),
            output: self.jsonata(o, "Output", "Output"),
            items: self.jsonata(o, "Items", "Items"),
            item_selector: self.jsonata(o, "ItemSelector", "ItemSelector"),
            timeout_seconds: expr(self, "TimeoutSeconds"),
            heartbeat_seconds: expr(self, "HeartbeatSeconds"),
            max_concurrency: expr(self, "MaxConcurrency"),
            tolerated_failure_count: expr(self, "ToleratedFailureCount"),
            tolerated_failure_percentage: expr(self, "ToleratedFailurePercentage"),
            seconds: expr(self, "Seconds"),
            timestamp: expr(self, "Timestamp"),
            error: expr(self, "Error"),
            cause: expr(self, "Cause"),
        }
    }

    /// `Assign` of a state, a choice rule or a catcher, in the language `lang`.
    pub(super) fn assign(&mut self, o: &Obj<'_>, lang: QueryLanguage) -> Option<Assign> {
        let json = o.get("Assign")?;
        let Json::Object(map) = json else {
            self.err(
                o,
                "Assign",
                format!("Assign must be an object of variables, not {}", kind(json)),
            );
            return None;
        };
        let size = json.to_string().len();
        if size > limits::ASSIGN_BYTES {
            self.err(
                o,
                "Assign",
                format!(
                    "Assign is {size} bytes; the values one Assign sets are limited to {} bytes",
                    limits::ASSIGN_BYTES
                ),
            );
        }
        let a = o.nested(map, o.at("Assign"));
        let mut ok = true;
        for key in map.keys() {
            let name = match lang {
                QueryLanguage::JsonPath => key.strip_suffix(".$").unwrap_or(key),
                QueryLanguage::Jsonata => key,
            };
            if let Some(problem) = variable_name_problem(name) {
                self.err(&a, key, problem);
                ok = false;
            }
        }
        let assign = match lang {
            QueryLanguage::JsonPath => {
                let t = self.template(json, &o.at("Assign"), o.state())?;
                match t {
                    crate::template::Template::Object(fields) => Some(Assign::JsonPath(
                        fields
                            .into_iter()
                            .map(|(k, v)| (k.trim_end_matches(".$").to_string(), v))
                            .collect(),
                    )),
                    crate::template::Template::Literal(Json::Object(m)) => Some(Assign::JsonPath(
                        m.into_iter()
                            .map(|(k, v)| (k, crate::template::Template::Literal(v)))
                            .collect(),
                    )),
                    _ => None,
                }
            }
            QueryLanguage::Jsonata => {
                let mut out = Vec::with_capacity(map.len());
                for key in map.keys() {
                    let t = self.jsonata(&a, key, &format!("Assign/{key}"))?;
                    out.push((key.clone(), t));
                }
                Some(Assign::Jsonata(out))
            }
        };
        assign.filter(|_| ok)
    }
}
