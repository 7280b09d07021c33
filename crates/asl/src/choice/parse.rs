//! Parsing choice rules from a definition, with every problem located.

use serde_json::Value as Json;

use crate::path::Path;
use crate::value::json_kind;

use super::*;

/// Fields a choice rule may carry besides its operator or combinator.
pub(super) const VARIABLE: &str = "Variable";
pub(super) const NEXT: &str = "Next";
pub(super) const COMMENT: &str = "Comment";
pub(super) const COMBINATORS: [&str; 3] = ["And", "Or", "Not"];

/// Parses one choice rule. `pointer` is the JSON pointer of `json` in the definition;
/// every problem is pushed to `problems` as `(pointer, message)`. A `top_level` rule sits
/// directly in `Choices`: it carries `Next`, which the caller reads and this function
/// ignores. Nested rules (inside `And`, `Or`, `Not`) must not have `Next`.
///
/// Returns the rule only when it (and every rule nested in it) is free of problems.
pub fn parse_rule(
    json: &Json,
    pointer: &str,
    top_level: bool,
    problems: &mut Vec<(String, String)>,
) -> Option<ChoiceRule> {
    let before = problems.len();
    let rule = parse_any(json, pointer, top_level, problems);
    if problems.len() > before { None } else { rule }
}

pub(super) fn parse_any(
    json: &Json,
    pointer: &str,
    top_level: bool,
    problems: &mut Vec<(String, String)>,
) -> Option<ChoiceRule> {
    let Json::Object(fields) = json else {
        problems.push((
            pointer.to_string(),
            format!(
                "a choice rule must be an object, found {}",
                json_kind(json).name()
            ),
        ));
        return None;
    };

    let mut combinators: Vec<(&str, &Json)> = Vec::new();
    let mut operators: Vec<(&str, Operator, bool, &Json)> = Vec::new();
    let mut variable: Option<&Json> = None;
    for (key, value) in fields {
        let key = key.as_str();
        if COMBINATORS.contains(&key) {
            combinators.push((key, value));
        } else if let Some((op, path)) = Operator::from_field(key) {
            operators.push((key, op, path, value));
        } else if key == VARIABLE {
            variable = Some(value);
        } else if key == NEXT {
            if !top_level {
                problems.push((
                    child(pointer, key),
                    "'Next' is only allowed in a top-level choice rule, not inside 'And', 'Or' or 'Not'"
                        .to_string(),
                ));
            }
        } else if key == COMMENT {
            if !value.is_string() {
                problems.push((
                    child(pointer, key),
                    format!(
                        "'Comment' must be a string, found {}",
                        json_kind(value).name()
                    ),
                ));
            }
        } else {
            problems.push((child(pointer, key), unknown_field(key)));
        }
    }

    if let Some(&(first, value)) = combinators.first() {
        for &(extra, _) in &combinators[1..] {
            problems.push((
                child(pointer, extra),
                format!("a choice rule takes exactly one of 'And', 'Or' and 'Not'; '{extra}' comes on top of '{first}'"),
            ));
        }
        if variable.is_some() {
            problems.push((
                child(pointer, VARIABLE),
                format!("'Variable' does not belong in a boolean expression ('{first}')"),
            ));
        }
        for &(field, ..) in &operators {
            problems.push((
                child(pointer, field),
                format!(
                    "comparison operator '{field}' does not belong in a boolean expression ('{first}')"
                ),
            ));
        }
        return parse_combinator(first, value, pointer, problems);
    }

    let variable = match variable {
        None => {
            problems.push((
                pointer.to_string(),
                "missing 'Variable': a choice rule needs 'Variable' and one comparison operator, or one of 'And', 'Or', 'Not'".to_string(),
            ));
            None
        }
        Some(Json::String(src)) => match crate::query::parse_variable_ref(src) {
            Some(Ok(r)) => Some((r.path, Some(r.name))),
            Some(Err(e)) => {
                problems.push((child(pointer, VARIABLE), e));
                None
            }
            None => match Path::parse(src) {
                Ok(path) => Some((path, None)),
                Err(e) => {
                    problems.push((child(pointer, VARIABLE), e.to_string()));
                    None
                }
            },
        },
        Some(other) => {
            problems.push((
                child(pointer, VARIABLE),
                format!(
                    "'Variable' must be a path string, found {}",
                    json_kind(other).name()
                ),
            ));
            None
        }
    };

    let Some(&(field, operator, path, value)) = operators.first() else {
        problems.push((
            pointer.to_string(),
            "missing comparison operator: a choice rule with 'Variable' needs exactly one, such as 'StringEquals', 'NumericLessThan' or 'IsPresent'".to_string(),
        ));
        return None;
    };
    for &(extra, ..) in &operators[1..] {
        problems.push((
            child(pointer, extra),
            format!("a choice rule takes exactly one comparison operator; '{extra}' comes on top of '{field}'"),
        ));
    }
    let operand = parse_operand(field, operator, path, value, pointer, problems);
    let (variable, variable_name) = variable?;
    Some(ChoiceRule::Test(DataTest {
        variable,
        variable_name,
        operator,
        operand: operand?,
    }))
}

/// `And`/`Or` (a non-empty array of rules) or `Not` (one rule), at `pointer/key`.
pub(super) fn parse_combinator(
    key: &str,
    value: &Json,
    pointer: &str,
    problems: &mut Vec<(String, String)>,
) -> Option<ChoiceRule> {
    let at = child(pointer, key);
    if key == "Not" {
        if value.is_array() {
            problems.push((
                at,
                "'Not' takes a single choice rule (an object), not an array".to_string(),
            ));
            return None;
        }
        return parse_any(value, &at, false, problems).map(|rule| ChoiceRule::Not(Box::new(rule)));
    }
    let Json::Array(items) = value else {
        problems.push((
            at,
            format!(
                "'{key}' must be a non-empty array of choice rules, found {}",
                json_kind(value).name()
            ),
        ));
        return None;
    };
    if items.is_empty() {
        problems.push((
            at,
            format!("'{key}' must be a non-empty array of choice rules"),
        ));
        return None;
    }
    let mut rules = Vec::with_capacity(items.len());
    let mut complete = true;
    for (i, item) in items.iter().enumerate() {
        // Keep going after a bad element: every problem is reported, not just the first.
        match parse_any(item, &child(&at, &i.to_string()), false, problems) {
            Some(rule) => rules.push(rule),
            None => complete = false,
        }
    }
    if !complete {
        return None;
    }
    Some(if key == "And" {
        ChoiceRule::And(rules)
    } else {
        ChoiceRule::Or(rules)
    })
}

pub(super) fn parse_operand(
    field: &str,
    operator: Operator,
    path: bool,
    value: &Json,
    pointer: &str,
    problems: &mut Vec<(String, String)>,
) -> Option<Operand> {
    let at = child(pointer, field);
    if path {
        let Json::String(src) = value else {
            problems.push((
                at,
                format!(
                    "'{field}' needs a path string, found {}",
                    json_kind(value).name()
                ),
            ));
            return None;
        };
        return match Path::parse(src) {
            Ok(p) => Some(Operand::Path(p)),
            Err(e) => {
                problems.push((at, e.to_string()));
                None
            }
        };
    }
    let expect = operator.literal_type();
    let fits = match expect {
        Expect::String => value.is_string(),
        Expect::Number => value.is_number(),
        Expect::Boolean => value.is_boolean(),
        Expect::Timestamp => value.as_str().is_some_and(|s| parse_timestamp(s).is_some()),
    };
    if fits {
        return Some(Operand::Literal(value.clone()));
    }
    let message = match value {
        Json::String(s) if expect == Expect::Timestamp => format!(
            "'{field}' needs {} (uppercase 'T' and 'Z'), found \"{s}\"",
            expect.describe()
        ),
        other => format!(
            "'{field}' needs {}, found {}",
            expect.describe(),
            json_kind(other).name()
        ),
    };
    problems.push((at, message));
    None
}

pub(super) fn unknown_field(key: &str) -> String {
    let known = [VARIABLE, NEXT, COMMENT]
        .into_iter()
        .chain(COMBINATORS)
        .map(str::to_string)
        .chain(Operator::ALL.iter().map(|op| op.field(false)))
        .chain(
            Operator::ALL
                .iter()
                .filter(|op| op.has_path_form())
                .map(|op| op.field(true)),
        )
        .find(|name| name.eq_ignore_ascii_case(key));
    match known {
        Some(name) => format!("unknown field '{key}' (did you mean '{name}'?)"),
        None => format!("unknown field '{key}'"),
    }
}

/// `pointer` extended by one object key or array index, escaped per RFC 6901.
pub(super) fn child(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"))
}

// ---------------------------------------------------------------------------------------------
// Evaluation
