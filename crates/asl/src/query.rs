//! The JSONata query language of a state: `{% ... %}` templates, the fields only a JSONata
//! state has, and workflow variables (`Assign`), which both query languages share.
//!
//! From the developer guide, "Transforming data with JSONata in Step Functions": any string
//! of a JSONata field, at any depth of an object or array, that starts with `{%` and ends with
//! `%}` is an expression; every other value is literal JSON. Expressions are compiled when the
//! definition is loaded (a syntax error is a definition error at the field) and evaluated by
//! the `jsonata` crate, whose evaluator sits behind that crate's own backend trait.

use jsonata::{Bindings, Expression};
use serde_json::{Map, Value as Json};

use crate::template::Template;

/// `QueryLanguage` of a state machine or a state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueryLanguage {
    #[default]
    JsonPath,
    Jsonata,
}

impl QueryLanguage {
    pub fn name(self) -> &'static str {
        match self {
            QueryLanguage::JsonPath => "JSONPath",
            QueryLanguage::Jsonata => "JSONata",
        }
    }
}

/// A JSON value whose `{% ... %}` strings are compiled JSONata expressions.
#[derive(Clone, Debug)]
pub enum Jsonata {
    /// A part with no expression.
    Literal(Json),
    Expression(Box<Expression>),
    Object(Vec<(String, Jsonata)>),
    Array(Vec<Jsonata>),
}

/// A JSONata expression that failed when a state ran; the caller adds the state prefix
/// (`An error occurred while executing the state ...`) and names it
/// `States.QueryEvaluationError`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{cause}")]
pub struct QueryError {
    pub cause: String,
}

/// A `{% ... %}` string's expression text, if it is one.
pub fn expression_text(s: &str) -> Option<&str> {
    s.strip_prefix("{%")?.strip_suffix("%}").map(str::trim)
}

/// A `{% ... %}` string of a field that does not compile.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{error} (in '{field}')")]
pub struct CompileError {
    /// Where in the field, as AWS names it: `Output/a/b[0]`.
    pub field: String,
    /// JSON pointer to the string, relative to the field's value (`/a/b/0`; empty: the
    /// value itself).
    pub pointer: String,
    pub error: jsonata::Error,
}

impl Jsonata {
    /// Compiles every `{% ... %}` string of `json`, the value of `field`.
    pub fn compile(json: &Json, field: &str) -> Result<Jsonata, CompileError> {
        Self::compile_at(json, field, String::new())
    }

    fn compile_at(json: &Json, field: &str, pointer: String) -> Result<Jsonata, CompileError> {
        let child =
            |token: &str| format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"));
        match json {
            Json::String(s) => match expression_text(s) {
                Some(text) => Expression::compile(text)
                    .map(|e| Jsonata::Expression(Box::new(e)))
                    .map_err(|error| CompileError {
                        field: field.to_string(),
                        pointer: pointer.clone(),
                        error,
                    }),
                None => Ok(Jsonata::Literal(json.clone())),
            },
            Json::Array(items) if has_expression(json) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    Jsonata::compile_at(item, &format!("{field}[{i}]"), child(&i.to_string()))
                })
                .collect::<Result<_, _>>()
                .map(Jsonata::Array),
            Json::Object(map) if has_expression(json) => map
                .iter()
                .map(|(k, v)| {
                    let compiled = Jsonata::compile_at(v, &format!("{field}/{k}"), child(k))?;
                    Ok((k.clone(), compiled))
                })
                .collect::<Result<_, _>>()
                .map(Jsonata::Object),
            _ => Ok(Jsonata::Literal(json.clone())),
        }
    }

    /// Evaluates the template with `bindings` (`$states` and the visible variables). An
    /// expression that returns nothing fails, as on AWS, naming the field it was written in.
    pub fn evaluate(&self, field: &str, bindings: &Bindings) -> Result<Json, QueryError> {
        match self {
            Jsonata::Literal(j) => Ok(j.clone()),
            Jsonata::Expression(e) => match e.evaluate(None, bindings) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(QueryError {
                    cause: format!(
                        "The JSONata expression '{}' specified for the field '{field}' returned nothing (undefined).",
                        e.source()
                    ),
                }),
                Err(err) => Err(QueryError {
                    cause: format!(
                        "The JSONata expression '{}' specified for the field '{field}' threw an error during evaluation. {err}",
                        e.source()
                    ),
                }),
            },
            Jsonata::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    out.insert(k.clone(), t.evaluate(&format!("{field}/{k}"), bindings)?);
                }
                Ok(Json::Object(out))
            }
            Jsonata::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, t)| t.evaluate(&format!("{field}[{i}]"), bindings))
                .collect::<Result<Vec<_>, _>>()
                .map(Json::Array),
        }
    }

    /// The expression's text, when the template is one expression.
    pub fn source(&self) -> Option<&str> {
        match self {
            Jsonata::Expression(e) => Some(e.source()),
            _ => None,
        }
    }

    /// Whether any expression of the template contains `word` (a cheap over-approximation of
    /// what it reads, so `$states` and variables are converted to JSON only when mentioned).
    pub fn mentions(&self, word: &str) -> bool {
        match self {
            Jsonata::Literal(_) => false,
            Jsonata::Expression(e) => e.source().contains(word),
            Jsonata::Object(fields) => fields.iter().any(|(_, t)| t.mentions(word)),
            Jsonata::Array(items) => items.iter().any(|t| t.mentions(word)),
        }
    }

    /// When the whole template is one expression that only reads fields of one variable
    /// (`{% $states.result %}`, `{% $states.input.a %}`): that variable path, so the engine
    /// can answer it from its own (possibly by-reference) value without converting to JSON.
    pub fn variable_path(&self) -> Option<&jsonata::VariablePath> {
        match self {
            Jsonata::Expression(e) => e.variable_path(),
            _ => None,
        }
    }
}

fn has_expression(json: &Json) -> bool {
    match json {
        Json::String(s) => expression_text(s).is_some(),
        Json::Array(items) => items.iter().any(has_expression),
        Json::Object(map) => map.values().any(has_expression),
        _ => false,
    }
}

/// A reference to a workflow variable in a JSONPath state (`"x.$": "$order.items[0]"`).
#[derive(Clone, Debug)]
pub struct VariableRef {
    pub name: String,
    /// The path into the variable's value (`$.items[0]`; `$` for the whole value).
    pub path: crate::path::Path,
    /// As written.
    pub source: String,
}

/// Parses `$name...` as a variable reference; `None` when `src` is not one (`$.a`, `$$.a`,
/// `$[0]`, `$`), `Some(Err)` when it is one with a broken path.
pub fn parse_variable_ref(src: &str) -> Option<Result<VariableRef, String>> {
    let rest = src.strip_prefix('$')?;
    let first = rest.chars().next()?;
    if !(first.is_alphabetic() || first == '_') {
        return None;
    }
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    let (name, tail) = rest.split_at(end);
    Some(
        crate::path::Path::parse(&format!("${tail}"))
            .map(|path| VariableRef {
                name: name.to_string(),
                path,
                source: src.to_string(),
            })
            .map_err(|e| e.to_string()),
    )
}

/// A state's (or a choice rule's, or a catcher's) `Assign`.
#[derive(Clone, Debug)]
pub enum Assign {
    /// In a JSONPath state: a payload template (`"x.$": "$.a"`), read against the state's
    /// result (its input for Choice and Wait, the error output in a catcher).
    JsonPath(Vec<(String, Template)>),
    /// In a JSONata state: each value a JSONata template.
    Jsonata(Vec<(String, Jsonata)>),
}

impl Assign {
    /// Whether a JSONata `Assign` mentions `word` (see [`Jsonata::mentions`]).
    pub fn mentions(&self, word: &str) -> bool {
        match self {
            Assign::JsonPath(_) => false,
            Assign::Jsonata(fields) => fields.iter().any(|(_, t)| t.mentions(word)),
        }
    }
}

/// Quotas of workflow variables, from "Passing data between states with variables".
pub mod limits {
    /// A variable name's maximum length in characters.
    pub const NAME_CHARS: usize = 80;
    /// The serialized size of one variable's value.
    pub const VALUE_BYTES: usize = 256 * 1024;
    /// The combined size of the values one `Assign` sets.
    pub const ASSIGN_BYTES: usize = 256 * 1024;
    /// The combined size of every variable stored in one execution.
    pub const TOTAL_BYTES: usize = 10 * 1024 * 1024;
}

/// Why a name cannot be a variable's (`None`: it can). Names follow JavaScript identifiers
/// as AWS restricts them: a letter or `_` first, then letters, digits or `_`; `states` is
/// reserved.
pub fn variable_name_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_alphanumeric() || c == '_') {
        return Some(format!(
            "'{name}' is not a valid variable name: a name starts with a letter or '_' and holds only letters, digits and '_'"
        ));
    }
    if name == "states" {
        return Some("'states' is a reserved variable name ($states)".to_string());
    }
    let n = name.chars().count();
    (n > limits::NAME_CHARS).then(|| {
        format!(
            "variable name '{name}' is {n} characters long; the limit is {}",
            limits::NAME_CHARS
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_evaluate_expressions_at_any_depth_and_keep_literals() {
        let t = Jsonata::compile(
            &json!({"a": "{% $states.input.x + 1 %}", "b": ["lit", "{% $v %}"], "c": 3}),
            "Output",
        )
        .unwrap();
        let mut b = Bindings::new();
        b.insert("states", json!({"input": {"x": 41}}));
        b.insert("v", json!("var"));
        assert_eq!(
            t.evaluate("Output", &b).unwrap(),
            json!({"a": 42, "b": ["lit", "var"], "c": 3})
        );
    }

    #[test]
    fn an_undefined_result_names_the_field_as_aws_does() {
        let t =
            Jsonata::compile(&json!({"v": [0, "{% $states.input.absent %}"]}), "Output").unwrap();
        let mut b = Bindings::new();
        b.insert("states", json!({"input": {}}));
        assert_eq!(
            t.evaluate("Output", &b).unwrap_err().cause,
            "The JSONata expression '$states.input.absent' specified for the field 'Output/v[1]' returned nothing (undefined)."
        );
    }

    #[test]
    fn a_syntax_error_names_its_field() {
        let e = Jsonata::compile(&json!({"x": [0, "{% a[1,2) %}"]}), "Arguments").unwrap_err();
        assert_eq!(e.field, "Arguments/x[1]");
        assert_eq!(e.pointer, "/x/1");
        assert!(e.error.is_syntax());
    }

    #[test]
    fn variable_names_follow_aws_rules() {
        assert_eq!(variable_name_problem("order_1"), None);
        assert!(variable_name_problem("1x").is_some());
        assert!(variable_name_problem("a-b").is_some());
        assert!(variable_name_problem("states").is_some());
        assert!(variable_name_problem(&"x".repeat(81)).is_some());
    }
}
